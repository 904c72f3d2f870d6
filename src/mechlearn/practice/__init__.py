"""Practice mode: re-derive the package's implementations against the project's own checks, like a game.

- `catalogue`: which functions are exercises (`Exercise`: name, target "mechlearn.pkg.module:qualname", day,
  difficulty 1-3, summary, hints). Pure data: listing exercises imports nothing heavy.
- `cases` and `cases_<topic>`: the cases that judge an exercise, each `case(fn) -> None` registered with
  `@case("name")`, comparing `fn` with an independent reference and raising `CaseFailure(inputs, expected, got)`.
  `tests/practice` runs every case against the package's own implementation, so exercises and package cannot drift.
- `runner`: substitutes the learner's function for the package's (`patched`), runs the cases, formats the verdict.
- `run`: `python -m mechlearn.practice.run NAME PATH`, the subprocess `mechlearn practice check` starts.
- `stub`: the file `mechlearn practice start NAME` writes into practice/ (git-ignored), never into the package.
- `scoreboard`: practice/.scoreboard.json, exercises cleared per topic ("dungeon").
- `pages`: the site's Exercises page and each day's "Practise this" line (filters/practice.lua).
"""

from mechlearn.practice.catalogue import EXERCISES, Exercise, get

__all__ = ["EXERCISES", "Exercise", "get"]
