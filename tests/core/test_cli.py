"""`mechlearn new/check/status/progress` as a learner uses them: happy paths, and bad input that loses nothing."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mechlearn.cli import main
from mechlearn.entries import load_entry
from mechlearn.report import PROGRESS_FILE, streak


def run_cli(*args, cwd):
    """The console script's behaviour, in a subprocess: exit code, stdout, stderr."""
    proc = subprocess.run([sys.executable, "-m", "mechlearn", *args], cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_new_numbers_days_fills_the_template_and_prints_the_path(project, capsys):
    uses = "autograd:backward-pass, finite-differences:gradient-verification"
    assert main(["new", "A scalar autograd engine", "--topic", "backprop", "--uses", uses, "--arena", "0.4"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == "daily_logs/day-001-a-scalar-autograd-engine/index.ipynb"
    assert main(["new", "Broadcasting & unbroadcast!", "--topic", "backprop", "--date", "2026-01-31"]) == 0
    second = project / "daily_logs/day-002-broadcasting-unbroadcast/index.ipynb"
    entry = load_entry(second)
    assert entry.problems == []
    assert entry.front["day"] == 2 and entry.front["date"] == dt.date(2026, 1, 31)
    first = load_entry(project / out)
    assert first.front["categories"] == [
        "backprop",
        "autograd",
        "finite-differences",
        "backward-pass",
        "gradient-verification",
    ]
    assert first.front["uses"] == [
        {"technique": "autograd", "solves": "backward-pass"},
        {"technique": "finite-differences", "solves": "gradient-verification"},
    ]
    assert first.front["arena"] == "0.4"
    assert first.front["date"] == dt.date.today()
    text = "\n".join(c.source for c in nbformat.read(second, 4).cells)
    headings = [h for h in ("## Derive", "## Implement", "## Verify", "## Experiment", "## Explain") if h in text]
    assert headings == ["## Derive", "## Implement", "## Verify", "## Experiment", "## Explain"]
    assert "import mechlearn.backprop as impl" in text
    assert (project / PROGRESS_FILE).is_file(), "new should refresh the progress grid"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--topic", "quantum"], "unknown topic 'quantum'"),
        (["--topic", "rl", "--date", "2026-02-30"], "not a real date"),
        (["--topic", "rl", "--date", "24/11/2026"], "not a date written YYYY-MM-DD"),
        (["--topic", "rl", "--day", "1"], "day 1 already exists"),
        (["--topic", "rl", "--day", "101"], "outside the log's 100 days"),
        (["--topic", "rl", "--uses", "einsum"], "--uses: 'einsum' is not technique:subproblem"),
        (["--topic", "rl", "--uses", "einsums:attention"], "unknown technique 'einsums' (did you mean: einsum"),
        (["--topic", "rl", "--uses", "einsum:einops"], "'einops' is a technique, not a sub-problem"),
        (["--topic", "rl", "--arena", "2.9"], "--arena: arena '2.9' is not a section in vocabulary.yml"),
    ],
)
def test_new_rejects_bad_input_in_one_line_and_writes_nothing(project, args, message):
    assert main(["new", "Existing day", "--topic", "backprop"]) == 0
    existing = project / "daily_logs/day-001-existing-day/index.ipynb"
    before = existing.read_bytes()
    snapshot = sorted(p.relative_to(project) for p in project.rglob("*"))

    code, out, err = run_cli("new", "Another day", *args, cwd=project)
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and message in err, f"expected one clear line, got: {err!r}"
    assert "Traceback" not in err
    assert existing.read_bytes() == before
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == snapshot


def test_new_never_overwrites_an_existing_folder(project):
    (project / "daily_logs/day-001-hand-made").mkdir()
    (project / "daily_logs/day-001-hand-made/index.ipynb").write_text("precious")
    code, _, err = run_cli("new", "Hand made", "--topic", "rl", "--day", "1", cwd=project)
    assert code == 1 and "already exists" in err
    assert (project / "daily_logs/day-001-hand-made/index.ipynb").read_text() == "precious"


def test_missing_topic_is_a_usage_error_in_one_line(project):
    code, _, err = run_cli("new", "No topic", cwd=project)
    assert code == 2 and err.count("\n") == 1 and "--topic" in err


def test_outside_a_project_the_error_says_where_it_looked(tmp_path):
    code, _, err = run_cli("status", cwd=tmp_path)
    assert code == 1 and "no project found" in err and "Traceback" not in err


def test_check_fails_on_a_day_without_outputs_and_names_it(project, capsys):
    main(["new", "Unrun day", "--topic", "backprop"])
    capsys.readouterr()
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "daily_logs/day-001-unrun-day/index.ipynb: has no outputs" in out


def test_check_fails_on_bad_front_matter_and_names_the_problem(project, capsys):
    main(["new", "Broken front", "--topic", "backprop"])
    path = project / "daily_logs/day-001-broken-front/index.ipynb"
    nb = nbformat.read(path, 4)
    nb.cells[0].source = (
        nb.cells[0].source.replace("day: 1", "day: 7").replace("categories: [backprop]", "categories: [cooking]")
    )
    nbformat.write(nb, path)
    capsys.readouterr()
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "'day' is 7 but the folder says day 1" in out
    assert "first category must be a topic" in out


def test_check_flags_an_out_of_date_progress_grid(project, capsys, write_day):
    write_day(project, 1, topic="rl")
    (project / PROGRESS_FILE).write_text("stale")
    assert main(["check"]) == 1
    assert f"{PROGRESS_FILE}: out of date" in capsys.readouterr().out
    assert main(["progress"]) == 0
    assert "Day 1: Day 1 (rl)" in (project / PROGRESS_FILE).read_text()


def test_status_counts_written_days_and_lists_stale_ones(project, capsys, write_day):
    write_day(project, 1, slug="first")
    write_day(project, 2, slug="second", topic="rl", date=dt.date.today().isoformat())
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Days done: 2/100" in out
    assert "Current streak: 1 day(s)" in out
    assert "Last day: 2 · Day 2" in out
    assert "daily_logs/day-001-first/index.ipynb: has no outputs" in out


def test_a_day_that_still_holds_the_template_is_not_done(project, capsys, write_day):
    """Catches counting a freshly made (template-only) day as done in `status` and in the home page's grid."""
    write_day(project, 1, slug="written")
    assert main(["new", "Only the template", "--topic", "rl"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Days done: 1/100" in out
    assert "In progress (template placeholders left, not counted as done): day 2" in out
    assert "Last day: 1 · Day 1" in out
    grid = (project / PROGRESS_FILE).read_text()
    assert 'title="Day 1: Day 1 (backprop)"' in grid and "Day 2: Only the template" not in grid
    assert "1/100 days" in grid


def test_slugs_are_short_and_cut_between_words():
    from mechlearn.new import slugify

    assert slugify("Q-learning & SARSA: on the cliff!") == "q-learning-sarsa-on-the-cliff"
    long = slugify("Training a two-layer attention-only model on repeated random tokens")
    assert long == "training-a-two-layer-attention-only-model-on"
    assert slugify("x" * 80) == "x" * 48


@pytest.mark.parametrize(
    "title, slug",
    [
        ("Über Adam", "uber-adam"),  # not "ber-adam": accents are dropped, the letter kept
        ("Crème brûlée: SGD", "creme-brulee-sgd"),
        ("Straße und Ærø", "strasse-und-aero"),
        ("ＧＰＴ－２ ｗｅｉｇｈｔｓ", "gpt-2-weights"),  # full-width forms are ordinary letters
        ("注意力机制", "注意力机制"),  # no Latin letters: the title's own letters, not a refusal
        ("Обратное распространение", "обратное-распространение"),
        ("注意力 2", "注意力-2"),
    ],
)
def test_slugs_keep_letters_beyond_ascii_and_new_makes_an_entry_of_them(project, title, slug):
    from mechlearn.new import slugify

    assert slugify(title) == slug
    assert main(["new", title, "--topic", "interp"]) == 0
    entry = load_entry(project / f"daily_logs/day-001-{slug}")  # the folder-name pattern accepts what new writes
    assert (entry.slug, entry.front["title"], entry.problems) == (slug, title, [])


def test_streak_counts_consecutive_days_ending_today_or_yesterday():
    d = dt.date(2026, 3, 10)
    days = lambda *offsets: [d - dt.timedelta(days=o) for o in offsets]
    assert streak(days(0, 1, 2, 4), d) == 3
    assert streak(days(1, 2), d) == 2, "today isn't over: yesterday's streak still counts"
    assert streak(days(2, 3), d) == 0
    assert streak(days(0, 0, 1), d) == 2, "two entries on one date are one day"
    assert streak([], d) == 0


BAD_DATE = "daily_logs/day-001-bad-date/index.ipynb"


def plant_impossible_date(project, write_day):
    path = write_day(project, 1, slug="bad-date")
    path.write_text(path.read_text().replace("2026-01-02", "2026-02-31"))


@pytest.mark.parametrize(
    "args, code, stream",
    [
        (["check"], 1, "out"),
        (["status"], 0, "out"),
        (["progress"], 1, "err"),
        (["new", "Next day", "--topic", "rl"], 0, "err"),
    ],
)
def test_an_impossible_date_in_one_entry_is_one_line_naming_it(project, write_day, capsys, args, code, stream):
    """Catches `date: 2026-02-31` crashing every command with YAML's ValueError (and `new` half done)."""
    plant_impossible_date(project, write_day)
    assert main(args) == code
    captured = capsys.readouterr()
    lines = [line for line in getattr(captured, stream).splitlines() if "impossible value" in line]
    assert len(lines) == 1 and BAD_DATE in lines[0], f"one line naming the file, got: {captured}"
    if args[0] == "new":
        assert (project / "daily_logs/day-002-next-day/index.ipynb").is_file()
        assert "Day 2: Next day" not in (project / PROGRESS_FILE).read_text(), "a template-only day is not done"


def test_run_finishes_beside_an_entry_with_an_impossible_date(project, write_day, capsys):
    plant_impossible_date(project, write_day)
    good = write_day(project, 2, slug="good")
    assert main(["run", "-q", str(good.parent)]) == 0
    captured = capsys.readouterr()
    assert "1 of 1 entries ran" in captured.out
    assert nbformat.read(good, 4).cells[1].outputs, "the run's notebook was written"
    assert f"{BAD_DATE}: left out of {PROGRESS_FILE}" in captured.err
    assert 'title="Day 2: Day 2 (backprop)"' in (project / PROGRESS_FILE).read_text()


def test_run_counts_what_ran_and_what_was_not_attempted(project, write_day, capsys):
    """Catches "1 of 2 entries ran" when the first failed and the second was never tried (no -k)."""
    write_day(project, 1, [nbformat.v4.new_code_cell("%%bash\necho not python")], slug="fails")
    write_day(project, 2, slug="skipped")
    assert main(["run", "-q"]) == 1
    captured = capsys.readouterr()
    assert "0 of 2 entries ran" in captured.out and "1 failed; 1 not attempted after the failure" in captured.out
    assert "FAILED daily_logs/day-001-fails/index.ipynb: cell 2 of 2 (code cell 1 of 1): invalid syntax" in (
        captured.err
    )


def test_progress_names_each_unreadable_entry_and_fails(project, write_day, capsys):
    """Catches `progress` silently dropping an unreadable entry from the grid and exiting 0."""
    write_day(project, 1, slug="good")
    (project / "daily_logs/day-002-corrupt").mkdir()
    (project / "daily_logs/day-002-corrupt/index.ipynb").write_text("{not json")
    (project / "daily_logs/day-003-empty").mkdir()
    assert main(["progress"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("daily_logs/day-002-corrupt/index.ipynb: ") and "not a readable notebook" in err[0]
    assert err[1].startswith("daily_logs/day-003-empty/index.ipynb: ") and "no such entry" in err[1]
    assert err[2].startswith("progress: 2 entries could not be read and are left out of the grid")
    assert len(err) == 3
    assert 'title="Day 1: Day 1 (backprop)"' in (project / PROGRESS_FILE).read_text(), "the good days still show"


@pytest.mark.parametrize("make", ["missing", "not a project"])
def test_mechlearn_root_must_be_a_project(tmp_path, monkeypatch, capsys, make):
    """Catches `new` creating a project wherever MECHLEARN_ROOT points."""
    root = tmp_path / "elsewhere"
    if make == "not a project":
        root.mkdir()
    monkeypatch.setenv("MECHLEARN_ROOT", str(root))
    monkeypatch.chdir(tmp_path)
    assert main(["new", "A day", "--topic", "rl"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"MECHLEARN_ROOT={root} is not a" in err
    assert sorted(tmp_path.rglob("*")) == ([root] if make == "not a project" else [])


def test_new_writes_the_whole_day_or_nothing(project, monkeypatch, capsys):
    """Catches a day folder left behind (empty, or with a partial notebook) when writing the notebook fails."""
    import mechlearn.new

    def disk_full(path, data):
        Path(path).write_text(data[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mechlearn.new, "write_atomic", disk_full)
    assert main(["new", "A day", "--topic", "rl"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert list((project / "daily_logs").iterdir()) == []


def test_progress_is_written_whole_or_not_at_all(project, write_day, monkeypatch, capsys):
    write_day(project, 1)
    (project / PROGRESS_FILE).write_text("the old grid")

    real_replace = os.replace

    def replace_fails(src, dst):
        if str(dst).endswith(PROGRESS_FILE):
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_fails)
    assert main(["progress"]) == 1
    assert "cannot write _progress.md (Input/output error)" in capsys.readouterr().err
    assert (project / PROGRESS_FILE).read_text() == "the old grid"
    assert not list(project.glob(".*.tmp")), "no temporary file left behind"


def test_new_in_a_folder_that_cannot_be_written_is_one_line(project, monkeypatch, capsys):
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert main(["new", "A day", "--topic", "rl"]) == 1
    err = capsys.readouterr().err
    assert err == "mechlearn: error: cannot write in daily_logs/ (Permission denied); nothing was written\n"


@pytest.mark.parametrize(
    "make, args, message",
    [
        (None, ["run", "daily_logs/day-009-nope"], "daily_logs/day-009-nope: no such file or folder"),
        (None, ["run", "README.md"], "README.md: not a daily entry"),
        ("corrupt", ["run", "daily_logs/day-001-x"], "day-001-x/index.ipynb: not a readable notebook"),
        ("corrupt", ["check"], "daily_logs/day-001-x/index.ipynb: not a readable notebook (NotJSONError"),
        ("no cells", ["check"], "day-001-x/index.ipynb: front matter missing: the notebook has no cells"),
        ("no cells", ["run", "daily_logs/day-001-x"], "index.ipynb: front matter missing: the notebook has no cells"),
        ("source 3", ["check"], "not a readable notebook (NotebookValidationError: 3 is not valid under any of"),
        ("source 3", ["status"], "at cells/0/source"),
    ],
)
def test_bad_paths_and_notebooks_are_one_line_without_a_traceback(project, capsys, make, args, message):
    (project / "README.md").write_text("hi")
    if make:
        (project / "daily_logs/day-001-x").mkdir()
        nb = {
            "corrupt": "{not json",
            "no cells": nbformat.writes(nbformat.v4.new_notebook()),
            # valid JSON that nbformat.read accepts, with a cell whose source is a number
            "source 3": json.dumps({**nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")]), "cells": [
                {"cell_type": "code", "source": 3, "metadata": {}, "outputs": [], "execution_count": None, "id": "a"}
            ]}),
        }[make]
        (project / "daily_logs/day-001-x/index.ipynb").write_text(nb)
    code = main(args)  # in-process: an exception escaping main() would be the traceback a learner sees
    out, err = capsys.readouterr()
    assert code == (0 if args[0] == "status" else 1)
    lines = [line for line in (out + err).splitlines() if message in line]
    assert len(lines) == 1, f"expected one line with {message!r}, got: {out + err!r}"
    assert str(project) not in out + err, "files are named as the learner typed them, relative to where they are"
    assert lines[0].count("day-0") <= 1, "the entry is named once per line"


def test_each_command_has_a_description_and_the_version_is_the_distributions(capsys):
    from importlib.metadata import version

    from mechlearn.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        assert parser.description and len(parser.description) > 40, f"`mechlearn {name} --help` has no description"
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"mechlearn {version('arena-mechanistic-learning')}\n"
