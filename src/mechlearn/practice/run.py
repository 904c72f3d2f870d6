"""`python -m mechlearn.practice.run NAME PATH`: judge the learner's file in this (fresh) process.

`mechlearn practice check` starts this in a subprocess, so the substitution of the learner's function for the
package's lives and dies with it: nothing the learner's code does to the package's modules outlasts the check,
and a hang is cut off by the parent's timeout. Exit status 0 only when every case passed.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from mechlearn.practice.catalogue import get
from mechlearn.practice.runner import format_result, load_learner, run_cases
from mechlearn.project import MechlearnError, display_path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m mechlearn.practice.run NAME PATH", file=sys.stderr)
        return 2
    # Libraries' deprecation notices (TransformerLens 3.9's HookedTransformer) are not the learner's concern here.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", FutureWarning)
    try:
        exercise = get(argv[0])
        path = Path(argv[1]).resolve()
        fn = load_learner(exercise, path)
        result = run_cases(exercise, fn, source=path)
    except MechlearnError as e:
        print(f"mechlearn: error: {e}", file=sys.stderr)
        return 1
    print(format_result(result, display_path(path)))
    return 0 if result.accepted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
