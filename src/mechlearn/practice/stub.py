"""The stub `mechlearn practice start NAME` writes: the target's imports, signature and docstring, the day's hints,
and `raise NotImplementedError` where the body was. Made from the package's source with `ast`, so the stub's
signature is always the one the package has."""

from __future__ import annotations

import ast
import functools
import importlib
import textwrap
from pathlib import Path

from mechlearn.practice.catalogue import DIFFICULTY, Exercise


@functools.cache
def _parsed(module: str) -> tuple[str, ast.Module]:
    # read the file itself: inspect.getsource(module) scans every loaded module to find it (0.5 s with torch loaded)
    source = Path(importlib.import_module(module).__file__).read_text("utf-8")
    return source, ast.parse(source)


def _function_node(tree: ast.Module, qualname: str) -> ast.FunctionDef:
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next(n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part)
        body = node.body
    return node


def _module_names(tree: ast.Module) -> set[str]:
    """Names defined at the top level of the module by `def`, `class` or assignment."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def stub_text(exercise: Exercise, day_title: str | None = None, day_path: str | None = None) -> str:
    """The whole stub file for `exercise`."""
    source, tree = _parsed(exercise.module)
    lines = source.splitlines()
    node = _function_node(tree, exercise.qualname)

    imports = [
        "\n".join(lines[n.lineno - 1 : n.end_lineno]) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    helpers = sorted((used & _module_names(tree)) - {exercise.attribute})
    if helpers:  # the module's own helpers and constants the package's version uses
        imports.append(f"from {exercise.module} import {', '.join(helpers)}")

    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    has_doc = ast.get_docstring(node) is not None
    body_start = node.body[1].lineno if has_doc and len(node.body) > 1 else node.body[0].lineno
    header = textwrap.dedent("\n".join(lines[first - 1 : node.body[0].lineno - 1]))
    decorators = [d for d in header.splitlines() if d.startswith("@") and "staticmethod" not in d]
    signature = "\n".join(line for line in header.splitlines() if not line.startswith("@"))
    docstring = ""
    if has_doc:
        doc_lines = lines[node.body[0].lineno - 1 : body_start - 1] if len(node.body) > 1 else []
        docstring = textwrap.dedent("\n".join(doc_lines)).strip("\n")
        if not docstring:  # the docstring is the whole body
            docstring = '"""' + ast.get_docstring(node, clean=True) + '"""'
        docstring = textwrap.indent(docstring, "    ") + "\n"

    day = f"day {exercise.day}" + (f" ({day_title})" if day_title else "")
    what = f"the method `{exercise.qualname}`" if exercise.is_method else f"`{exercise.qualname}`"
    head = [
        f"Practice: {exercise.name} — {exercise.topic}, {day}, {DIFFICULTY[exercise.difficulty]}.",
        "",
        f"Write {what} from `{exercise.module}` again, from scratch: {exercise.summary}",
    ]
    if exercise.is_method:
        owner = exercise.qualname.rsplit(".", 1)[0]
        head.append(f"A method: `self` is the `{owner}` instance; the checker installs it as `{exercise.qualname}`.")
    if exercise.hints:
        head += ["", "Hints:"] + [f"- {h}" for h in exercise.hints]
    head += ["", f"Check it:  mechlearn practice check {exercise.name}"]
    if day_path:
        head.append(f"The day:   {day_path}")
    head.append(f"Peek only after you pass: the package's own version in {exercise.module} ({exercise.qualname}).")
    wrapped = "\n".join(
        textwrap.fill(line, 116, subsequent_indent="  " if line.startswith("- ") else "") if line else ""
        for line in head
    )
    quote = '"""'
    parts = [f"{quote}{wrapped}\n{quote}", "", "\n".join(imports), "", "", "\n".join([*decorators, signature])]
    return "\n".join(parts) + "\n" + docstring + "    raise NotImplementedError\n"


def write_stub(root: Path, exercise: Exercise, text: str, force: bool = False) -> Path:
    """practice/<name>.py under `root`; an existing file is kept unless `force` (a learner's work is precious)."""
    from mechlearn.project import MechlearnError, write_atomic

    folder = Path(root) / "practice"
    path = folder / exercise.file_name
    if path.exists() and not force:
        raise MechlearnError(
            f"practice/{exercise.file_name} already exists (check it: mechlearn practice check {exercise.name}; "
            "start over with --force)"
        )
    folder.mkdir(exist_ok=True)
    write_atomic(path, text)
    return path
