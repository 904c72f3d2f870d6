"""Show the implementation a day is about as highlighted Python with a link to its lines in the repository.

`print(inspect.getsource(f))` renders as plain stdout: no highlighting, long lines cut at the page edge. A cell that
ends with `show_source(f)` instead returns Markdown (a fenced ``python`` block under a link to the file and lines),
which Jupyter and Quarto both render as highlighted code.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_URL = "https://github.com/arena-mechanistic-learning/arena-mechanistic-learning"
BRANCH = "main"
_ROOT = Path(__file__).resolve().parents[2]  # src/mechlearn/show.py -> the repository root


@dataclass
class Block:
    where: str  # the file relative to the repository root, or the module name for code outside it
    in_repo: bool  # only files of this repository get a link
    first: int
    last: int
    code: str

    def heading(self) -> str:
        label = f"`{self.where}` lines {self.first}–{self.last}"
        if not self.in_repo:
            return label
        return f"[{label}]({REPO_URL}/blob/{BRANCH}/{self.where}#L{self.first}-L{self.last})"


class Source:
    """The source of one or more objects; displays as Markdown in a notebook, as plain source elsewhere."""

    def __init__(self, *objects):
        if not objects:
            raise TypeError("show_source() needs at least one function, class or module")
        self.blocks = [_block(obj) for obj in objects]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"{b.heading()}\n\n```python\n{b.code}\n```" for b in self.blocks)

    def __repr__(self) -> str:
        return "\n\n".join(f"# {b.where}, lines {b.first}-{b.last}\n{b.code}" for b in self.blocks)


def _block(obj) -> Block:
    target = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
    lines, first = inspect.getsourcelines(target)
    first = max(first, 1)  # a module starts at line 0
    path = Path(inspect.getsourcefile(target)).resolve()
    try:
        where, in_repo = path.relative_to(_ROOT).as_posix(), True
    except ValueError:  # a library's code, or this package installed without a checkout: named, not linked
        where, in_repo = getattr(inspect.getmodule(target), "__name__", path.name), False
    code = textwrap.dedent("".join(lines)).rstrip("\n")
    return Block(where, in_repo, first, first + len(lines) - 1, code)


def show_source(*objects) -> Source:
    """`show_source(Attention.forward)` as the last line of a cell: the code, highlighted, with a link to it."""
    return Source(*objects)
