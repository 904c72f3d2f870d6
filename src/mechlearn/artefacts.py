"""Small committed artefacts (checkpoints, metrics) that a day's long experiment makes once and later runs load.

A day's notebook calls `cached(...)` around its expensive step. The first run computes and saves the artefact
beside the notebook, with a sidecar `<name>.provenance.json` holding the hashes of the `mechlearn` modules that
made it. Later runs (`mechlearn run`, the test suite) load it in seconds — unless one of those modules has changed
since, in which case the artefact is stale and is recomputed, so a frozen result can never silently outlive the
code that made it. `MECHLEARN_RETRAIN=1` forces recomputation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mechlearn.project import write_atomic
from mechlearn.provenance import module_hashes

T = TypeVar("T")


def retrain_requested() -> bool:
    return os.environ.get("MECHLEARN_RETRAIN", "") not in ("", "0")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".provenance.json")


# How a sidecar's module hashes were taken: "code" = comments and docstrings left out (provenance.code_only), so
# editing them does not remake an artefact; sidecars without the field hold hashes of the modules' full text.
HASHING = "code"


def is_current(path: Path, depends_on: list[str]) -> bool:
    """Whether the artefact at `path` exists and was made by the current code of `depends_on`."""
    path, side = Path(path), _sidecar(Path(path))
    if not (path.is_file() and side.is_file()):
        return False
    record = json.loads(side.read_text())
    return record.get("modules") == module_hashes(set(depends_on), code_only_hash=record.get("hashing") == HASHING)


def stale_artefacts(folder: Path) -> list[str]:
    """Names of the cached artefacts in `folder` that the current code would remake: their sidecar's module hashes
    differ from the code's now, or the sidecar cannot be read. A day whose run wrote such a file and then had it
    replaced by an older copy shows up here even when its notebook's own provenance is current."""
    out = []
    for side in sorted(Path(folder).glob("*.provenance.json")):
        path = side.with_name(side.name[: -len(".provenance.json")])
        try:
            current = is_current(path, json.loads(side.read_text())["depends_on"])
        except (OSError, ValueError, KeyError, TypeError):
            current = False
        if not current:
            out.append(path.name)
    return out


def cached(
    path: Path,
    make: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
    depends_on: list[str],
) -> T:
    """Load the artefact at `path` if it is current, else `make()` it, `save` it and record its provenance."""
    path = Path(path)
    if not retrain_requested() and is_current(path, depends_on):
        return load(path)
    value = make()
    _store(value, path, save, depends_on)
    return value


def _store(value: T, path: Path, save: Callable[[T, Path], None], depends_on: list[str]) -> None:
    """Save `value` at `path` and record the provenance of the code that made it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save(value, path)
    record = {"modules": module_hashes(set(depends_on), code_only_hash=True), "depends_on": sorted(depends_on)}
    record["hashing"] = HASHING
    _save_json(record, _sidecar(path))


def _save_json(value, path: Path) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True) + "\n")


def cached_json(path: Path, make: Callable[[], T], depends_on: list[str]) -> T:
    """`cached` for JSON-able results (metrics, curves as lists)."""
    return cached(path, make, _save_json, lambda p: json.loads(p.read_text()), depends_on)


def _save_tensors(value: dict, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in value.items()}, str(path))


def _load_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def cached_tensors(path: Path, make: Callable[[], dict], depends_on: list[str]) -> dict:
    """`cached` for a dict of torch tensors (a state dict), stored as safetensors."""
    return cached(path, make, _save_tensors, _load_tensors, depends_on)


def cached_training(
    weights_path: Path, curve_path: Path, train: Callable[[], tuple[dict, T]], depends_on: list[str]
) -> tuple[dict, T]:
    """A trained model's state dict (safetensors) and its training record (JSON), made together by `train()` and
    cached as a pair: when either is missing or stale both are remade, so a curve never describes other weights."""
    weights_path, curve_path = Path(weights_path), Path(curve_path)
    if not retrain_requested() and is_current(weights_path, depends_on) and is_current(curve_path, depends_on):
        return _load_tensors(weights_path), json.loads(curve_path.read_text())
    weights, curve = train()
    _store(weights, weights_path, _save_tensors, depends_on)
    _store(curve, curve_path, _save_json, depends_on)
    return weights, curve
