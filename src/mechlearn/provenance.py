"""What an entry's stored results depend on, as hashes: every `mechlearn` module it imports and its own code.

Quarto's `freeze` re-runs a page only when the page itself changes; it never notices that a module the page
imports has changed. `mechlearn run` records these hashes in the notebook's metadata when it executes an entry,
and `mechlearn check` recomputes them: any difference means the stored outputs are stale. It also records a hash
of the outputs it stored, so outputs made by running cells by hand in an editor and saving are not taken for a run's.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import io
import json
import sys
import tokenize
from pathlib import Path

import nbformat

PACKAGE = "mechlearn"
METADATA_KEY = "mechlearn"
# The bookkeeping itself: it decides whether a result must be recomputed but never computes one, so editing it
# must not mark every day and every cached training run stale (that would retrain everything for nothing).
BOOKKEEPING = frozenset({"mechlearn.provenance", "mechlearn.artefacts"})
OUTPUTS_CHANGED = "its outputs are not the ones `mechlearn run` stored (cells run by hand and saved?)"
# What an editor adds on save and `mechlearn run` strips (execute.normalise): per-cell run timestamps, widget state.
EDITOR_METADATA = "it was saved by an editor with cell timestamps or widget state, which `mechlearn run` strips"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _strip_magics(source: str) -> str:
    """IPython lines (`%matplotlib`, `!pip`) are not Python; blank them so `ast` can read the cell."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def imported_modules(source: str, current: str | None = None, is_package: bool = False) -> set[str]:
    """Names of `mechlearn` modules that `source` imports, resolving relative imports against `current`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(_strip_magics(source))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if current is None:
                    continue
                parts = current.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            # `from mechlearn.backprop import engine` imports a submodule, not just a name
            found.update(f"{module}.{a.name}" for a in node.names if _spec(f"{module}.{a.name}") is not None)
    return found


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where module `name` lives, found as the import system would find it but without importing anything.

    (`importlib.util.find_spec` imports parent packages, so checking an entry would import torch, and a broken
    `__init__` would crash `mechlearn check` instead of showing up as a change.)
    """
    parent_path = None
    if "." in name:
        parent = _spec(name.rpartition(".")[0])
        if parent is None or parent.submodule_search_locations is None:
            return None
        parent_path = list(parent.submodule_search_locations)
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, parent_path)
        except Exception:  # a finder that cannot answer for this name is not the one that owns it
            continue
        if spec is not None:
            return spec
    return None


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_only(source: str) -> str:
    """`source` less its comments, docstrings (any bare string statement) and blank lines: what can change a result.

    A page shows docstrings (`show_source`), so an entry is hashed on its modules' full text; a cached artefact
    (a trained checkpoint, a run's metrics) is hashed on this, so fixing a comment does not retrain a model.
    Text is cut at the positions `ast` and `tokenize` report, which do not depend on the Python version.
    """
    lines = source.splitlines(keepends=True)
    cuts: list[tuple[tuple[int, int], tuple[int, int]]] = []  # ((line, char), (line, char)), 1-based lines

    def chars(line: int, byte_col: int) -> int:  # ast columns count UTF-8 bytes; tokenize columns count characters
        return len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    for node in ast.walk(ast.parse(source)):
        # a bare string statement does nothing: a docstring, or an attribute's docstring under a dataclass field
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            start = (node.lineno, chars(node.lineno, node.col_offset))
            cuts.append((start, (node.end_lineno, chars(node.end_lineno, node.end_col_offset))))
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    cuts += [(t.start, t.end) for t in tokens if t.type == tokenize.COMMENT]
    kept = [list(line) for line in lines]
    for (l0, c0), (l1, c1) in cuts:
        for line in range(l0, l1 + 1):
            lo = c0 if line == l0 else 0
            hi = c1 if line == l1 else len(kept[line - 1])
            kept[line - 1][lo:hi] = [""] * (hi - lo)
    text = ("".join(chars_).rstrip() for chars_ in kept)
    return "\n".join(line for line in text if line)


def module_hashes(roots: set[str], code_only_hash: bool = False) -> dict[str, str]:
    """Hash of every module in `roots`, their parent packages, and everything they import within `mechlearn`
    (less the `BOOKKEEPING` modules). A module that cannot be found maps to "missing", so a deleted module also
    shows up as a change. With `code_only_hash`, each module is hashed on `code_only(source)`.
    """
    hashes: dict[str, str] = {}
    todo = sorted({p for name in roots for p in _with_parents(name)})
    while todo:
        name = todo.pop()
        if name in hashes or name in BOOKKEEPING:
            continue
        spec = _spec(name)
        if spec is None or not spec.origin or not Path(spec.origin).is_file():
            hashes[name] = "missing"
            continue
        is_package = spec.submodule_search_locations is not None
        hashes[name], deps = _analysed(Path(spec.origin).read_bytes(), name, is_package, code_only_hash)
        todo.extend(p for dep in deps for p in _with_parents(dep) if p not in hashes)
    return dict(sorted(hashes.items()))


@functools.lru_cache(maxsize=1024)
def _analysed(source: bytes, name: str, is_package: bool, code_only_hash: bool) -> tuple[str, frozenset[str]]:
    """(hash, `mechlearn` imports) of one module's source. Keyed on the source itself, so `check`, which asks for
    the same modules once per notebook and once per cached artefact, parses each module once per version."""
    digest = _digest(code_only(source.decode()).encode() if code_only_hash else source)
    try:
        deps = imported_modules(source.decode(), current=name, is_package=is_package)
    except SyntaxError:
        deps = set()
    return digest, frozenset(deps)


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def outputs_digest(nb: nbformat.NotebookNode) -> str:
    """A hash of what the code cells show: their outputs and execution counts, as stored.

    Base64 images count without a trailing newline, which editors keep or drop when they merely re-save a notebook
    (Jupyter keeps it, VS Code drops it), so opening a day and saving it unchanged is not mistaken for a new run.
    """
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            out = dict(out)
            if "data" in out:
                out["data"] = {
                    mime: value.rstrip("\n") if mime.startswith("image/") and isinstance(value, str) else value
                    for mime, value in out["data"].items()
                }
            outputs.append(out)
        shown.append([cell.get("execution_count"), outputs])
    return _digest(json.dumps(shown, sort_keys=True).encode())


def provenance(nb: nbformat.NotebookNode) -> dict:
    """What the stored outputs of `nb` were computed from — its code and the `mechlearn` modules it imports — and a
    hash of those outputs (`nb` as `mechlearn run` stores it: executed and normalised)."""
    roots: set[str] = set()
    for i, source in enumerate(code_cells(nb)):
        try:
            roots |= imported_modules(source)
        except SyntaxError as e:
            raise SyntaxError(f"code cell {i}: {e.msg}") from None
    return {
        "code": _digest("\n# --- cell ---\n".join(code_cells(nb)).encode()),
        "modules": module_hashes(roots),
        "outputs": outputs_digest(nb),
    }


def stale_reasons(nb: nbformat.NotebookNode) -> list[str]:
    """Why the stored outputs of `nb` no longer match its code and sources (empty when they match)."""
    recorded = nb.metadata.get(METADATA_KEY, {}).get("provenance")
    if not recorded:
        return ["never executed by `mechlearn run` (no recorded provenance)"]
    now = provenance(nb)
    reasons = []
    if recorded.get("code") != now["code"]:
        reasons.append("its code cells changed since it was run")
    # A record from before output hashes were kept has none: its outputs are taken as the run's.
    if recorded.get("outputs", now["outputs"]) != now["outputs"]:
        reasons.append(OUTPUTS_CHANGED)
    if any("execution" in c.metadata for c in nb.cells) or "widgets" in nb.metadata:
        reasons.append(EDITOR_METADATA)
    old, new = recorded.get("modules", {}), now["modules"]
    for name in sorted(set(old) | set(new)):
        if name not in old:
            reasons.append(f"now imports {name}")
        elif name not in new:
            reasons.append(f"no longer imports {name}")
        elif old[name] != new[name]:
            reasons.append(f"{name} changed")
    return reasons
