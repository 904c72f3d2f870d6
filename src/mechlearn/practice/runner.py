"""Run an exercise's cases against an implementation, with it substituted for the package's own.

`patched(exercise, fn)` puts `fn` where the package keeps the target — the attribute of its module, or of its
class for a method — and in every other `mechlearn` module that imported the same function by name
(`from mechlearn.backprop.tensor import unbroadcast`), so the package's own code calls the learner's version too;
it restores everything on exit. The case modules (`mechlearn.practice.*`) are left alone: their references stay
the independent ones. `run_cases` runs every case and collects a `Result`; `format_result` prints it in one screen.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mechlearn.practice.cases import CaseFailure, cases_for, describe
from mechlearn.practice.catalogue import Exercise
from mechlearn.project import MechlearnError, display_path


def resolve(exercise: Exercise) -> tuple[object, str, object]:
    """(owner, attribute name, the package's implementation): owner is the module, or the class of a method."""
    owner = importlib.import_module(exercise.module)
    *path, name = exercise.qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    return owner, name, original


def original(exercise: Exercise) -> Callable:
    """The package's own implementation of `exercise`."""
    return resolve(exercise)[2]


@contextmanager
def patched(exercise: Exercise, fn: Callable) -> Iterator[None]:
    """Inside the block the package uses `fn` for `exercise`'s target (see the module docstring)."""
    owner, name, impl = resolve(exercise)
    replaced: list[tuple[object, str, object]] = [(owner, name, impl)]
    if not exercise.is_method:
        for mod_name, module in list(sys.modules.items()):
            if (
                mod_name.startswith("mechlearn.")
                and not mod_name.startswith("mechlearn.practice")
                and module is not owner
                and getattr(module, name, None) is impl
            ):
                replaced.append((module, name, impl))
    try:
        for target, attr, _ in replaced:
            setattr(target, attr, fn)
        yield
    finally:
        for target, attr, value in replaced:
            setattr(target, attr, value)


@dataclass
class CaseOutcome:
    name: str
    doc: str
    passed: bool
    failure: CaseFailure | None = None
    error: str | None = None  # an exception other than a wrong answer, in one line
    not_implemented: bool = False


@dataclass
class Result:
    exercise: Exercise
    outcomes: list[CaseOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def accepted(self) -> bool:
        return bool(self.outcomes) and self.passed == len(self.outcomes)

    @property
    def not_implemented(self) -> bool:
        return any(o.not_implemented for o in self.outcomes)


def _where(exc: BaseException, path: Path | None) -> str:
    """` (line 12 of practice/x.py)` for the innermost frame in the learner's file, if any."""
    if path is None:
        return ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    return f" (line {frames[-1].lineno} of {path.name})" if frames else ""


def run_cases(exercise: Exercise, fn: Callable, source: Path | None = None) -> Result:
    """Every case of `exercise` with `fn` substituted for the package's implementation."""
    result = Result(exercise)
    start = time.perf_counter()
    cases = cases_for(exercise)
    with patched(exercise, fn):
        for run in cases:
            doc = " ".join((run.__doc__ or "").split())
            outcome = CaseOutcome(run.__name__, doc, passed=False)
            try:
                run(fn)
                outcome.passed = True
            except CaseFailure as e:
                outcome.failure = e
            except NotImplementedError:
                outcome.not_implemented = True
            except Exception as e:  # the learner's code raised: name it in one line, where it happened
                detail = (str(e).strip().splitlines() or [""])[0]
                outcome.error = f"{type(e).__name__}: {detail}{_where(e, source)}"
            result.outcomes.append(outcome)
    result.seconds = time.perf_counter() - start
    return result


def format_result(result: Result, source: str | None = None) -> str:
    """The verdict, one line per case, and the first failure's inputs, expected and got."""
    ex, n = result.exercise, len(result.outcomes)
    if result.not_implemented:
        where = f" in {source}" if source else ""
        return f"{ex.name}: not implemented yet: replace the `raise NotImplementedError`{where}, then check again"
    verdict = "Accepted" if result.accepted else "Wrong Answer"
    lines = [f"{verdict}: {ex.name} — {result.passed}/{n} cases passed ({result.seconds:.2f}s)"]
    for o in result.outcomes:
        lines.append(f"  {'✓' if o.passed else '✗'} {o.name}")
    first = next((o for o in result.outcomes if not o.passed), None)
    if first is not None:
        lines += ["", f"First failing case: {first.name}"]
        lines += textwrap.wrap(first.doc, 116, initial_indent="  checks    ", subsequent_indent=" " * 12)
        if first.error is not None:
            lines.append(f"  raised    {first.error}")
        else:
            f = first.failure
            lines.append(f"  failed    {f.message}")
            for key, value in f.inputs.items():
                lines.append(f"  input     {key} = {describe(value)}")
            lines.append(f"  expected  {describe(f.expected)}")
            lines.append(f"  got       {describe(f.got)}")
    return "\n".join(lines)


def load_learner(exercise: Exercise, path: Path) -> Callable:
    """Import the learner's file and return its implementation (a top-level `def <attribute>`)."""
    path = Path(path)
    where = display_path(path)
    if not path.is_file():
        raise MechlearnError(f"{where}: no such file (make it with: mechlearn practice start {exercise.name})")
    spec = importlib.util.spec_from_file_location(f"mechlearn_practice_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise MechlearnError(f"{where}: line {e.lineno}: SyntaxError: {e.msg}") from None
    except Exception as e:
        detail = (str(e).strip().splitlines() or [""])[0]
        raise MechlearnError(f"{where}: importing it raised {type(e).__name__}: {detail}{_where(e, path)}") from None
    fn = getattr(module, exercise.attribute, None)
    if not callable(fn):
        raise MechlearnError(f"{where}: defines no function `{exercise.attribute}` (the stub's `def` line names it)")
    return fn
