"""`mechlearn new/check/status/progress` as a learner uses them: happy paths, and bad input that loses nothing."""

import datetime as dt
import subprocess
import sys

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
    assert main(["new", "A scalar autograd engine", "--topic", "backprop", "--techniques", "Autograd, chain-rule"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == "daily_logs/day-001-a-scalar-autograd-engine/index.ipynb"
    assert main(["new", "Broadcasting & unbroadcast!", "--topic", "backprop", "--date", "2026-01-31"]) == 0
    second = project / "daily_logs/day-002-broadcasting-unbroadcast/index.ipynb"
    entry = load_entry(second)
    assert entry.problems == []
    assert entry.front["day"] == 2 and entry.front["date"] == dt.date(2026, 1, 31)
    first = load_entry(project / out)
    assert first.front["categories"] == ["backprop", "autograd", "chain-rule"]
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
        (["--topic", "rl", "--techniques", "ok,<bad>"], "not a technique name"),
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


def test_streak_counts_consecutive_days_ending_today_or_yesterday():
    d = dt.date(2026, 3, 10)
    days = lambda *offsets: [d - dt.timedelta(days=o) for o in offsets]
    assert streak(days(0, 1, 2, 4), d) == 3
    assert streak(days(1, 2), d) == 2, "today isn't over: yesterday's streak still counts"
    assert streak(days(2, 3), d) == 0
    assert streak(days(0, 0, 1), d) == 2, "two entries on one date are one day"
    assert streak([], d) == 0
