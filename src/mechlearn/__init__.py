"""mechlearn: 100 days of mechanistic learning, one installable package.

Topic implementations live in the topic folders and import as subpackages:
``mechlearn.backprop`` (01_backprop/), ``mechlearn.transformers`` (02_transformers/),
``mechlearn.rl`` (03_reinforcement_learning/), ``mechlearn.interp`` (04_interpretability/).
The core (this folder) holds the machinery of the log itself: entries, execution, provenance, the CLI.
"""

__version__ = "0.1.0"
