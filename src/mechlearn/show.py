"""Show the implementation a day is about as highlighted Python with a link to its lines in the repository.

`print(inspect.getsource(f))` renders as plain stdout: no highlighting, long lines cut at the page edge. A cell that
ends with `show_source(f)` instead returns Markdown (a fenced ``python`` block under a link to the file and lines),
which Jupyter and Quarto both render as highlighted code.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

REPO_URL = "https://github.com/arena-mechanistic-learning/arena-mechanistic-learning"
BRANCH = "main"
_ROOT = Path(__file__).resolve().parents[2]  # src/mechlearn/show.py -> the repository root


class Source:
    """The source of one or more objects; displays as Markdown in a notebook, as plain source elsewhere."""

    def __init__(self, *objects):
        if not objects:
            raise TypeError("show_source() needs at least one function, class or module")
        self.blocks = [_block(obj) for obj in objects]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(
            f"[`{rel}` lines {first}–{last}]({REPO_URL}/blob/{BRANCH}/{rel}#L{first}-L{last})\n\n```python\n{code}\n```"
            for rel, first, last, code in self.blocks
        )

    def __repr__(self) -> str:
        return "\n\n".join(f"# {rel}, lines {first}-{last}\n{code}" for rel, first, last, code in self.blocks)


def _block(obj) -> tuple[str, int, int, str]:
    target = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
    lines, first = inspect.getsourcelines(target)
    first = max(first, 1)  # a module starts at line 0
    path = Path(inspect.getsourcefile(target)).resolve()
    try:
        rel = path.relative_to(_ROOT).as_posix()
    except ValueError:  # installed elsewhere than a checkout: name the file, link to nothing wrong
        rel = path.name
    code = textwrap.dedent("".join(lines)).rstrip("\n")
    return rel, first, first + len(lines) - 1, code


def show_source(*objects) -> Source:
    """`show_source(Attention.forward)` as the last line of a cell: the code, highlighted, with a link to it."""
    return Source(*objects)
