"""Numbers a day quotes away from its outputs (in blog posts and topic pages), recorded when the day runs.

A cell calls `record("mlp_accuracy", acc, f"{acc:.1%}")`: the text is returned (print it, so the page shows the
number beside the code that made it) and saved under the day's `results.json`. `mechlearn run` gathers every day's
results into `_variables.yml`, which pages quote as `{{< var day008.mlp_accuracy >}}`, so a quoted number is always
the one the day's last run printed, and `mechlearn check` fails when `_variables.yml` is out of date.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from mechlearn.project import write_atomic

RESULTS_FILE = "results.json"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def record(name: str, value: float | int | str, text: str | None = None, folder: Path | None = None) -> str:
    """Save `value` (and the `text` pages quote, default `str(value)`) as result `name` of the day being run.

    `folder` is the day's folder; it defaults to the working directory, which is the day's folder when the
    notebook runs under `mechlearn run` or JupyterLab. Returns the text, for printing.
    """
    if not _NAME.match(name):
        raise ValueError(f"result name {name!r}: use lower-case letters, digits and _ (a Quarto variable key)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {name!r} is {value}, not a number a page can quote")
    if not isinstance(value, int | float | str):
        value = value.item() if hasattr(value, "item") else value  # a 0-d numpy/torch scalar
        if not isinstance(value, int | float | str):
            raise TypeError(f"result {name!r} must be a number or a string, got {type(value).__name__}")
    text = str(value) if text is None else text
    path = Path(folder or Path.cwd()) / RESULTS_FILE
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results[name] = {"value": value, "text": text}
    write_atomic(path, json.dumps(dict(sorted(results.items())), indent=1, ensure_ascii=False) + "\n")
    return text
