"""Mutation testing of the core modules with mutmut 3 (results and the reading of every survivor: mutation.md).

mutmut imports the code under test from its own copy (`mutants/src`), which needs a plain `src/<package>` layout;
ours maps the topic folders into `mechlearn.*` through `[tool.setuptools] package-dir`. So each group is staged in
`.mutation/<group>/` (git-ignored) as `src/mechlearn/{backprop,transformers,rl,interp}/` plus only the tests that
exercise it, with a `pyproject.toml` holding that group's `[tool.mutmut]` section, and mutmut runs there.

    .venv/bin/pip install mutmut==3.8.1                 # not a project dependency: only this script needs it
    nice -n 10 .venv/bin/python benchmarks/mutation.py tensor functional
    nice -n 10 .venv/bin/python benchmarks/mutation.py --results tensor   # killed / survived counts per module
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / ".mutation"
TOPICS = {
    "backprop": "01_backprop",
    "transformers": "02_transformers",
    "rl": "03_reinforcement_learning",
    "interp": "04_interpretability",
}
# group -> (modules to mutate, as topic/module; test files that exercise them)
TENSOR_TESTS = ["tests/backprop/test_tensor_ops.py", "tests/backprop/test_tensor_edges.py"]
GROUPS = {
    "tensor": (["backprop/tensor"], TENSOR_TESTS),
    "functional": (["backprop/functional"], TENSOR_TESTS),
    "conv": (["backprop/conv"], ["tests/backprop/test_layers_conv.py", "tests/backprop/test_tensor_edges.py"]),
    "optim": (["backprop/optim"], ["tests/backprop/test_optim_vs_torch.py"]),
    "transformers": (
        ["transformers/attention", "transformers/layers", "transformers/sampling"],
        ["tests/transformers/test_transformers_parity.py", "tests/transformers/test_transformers_sampling.py"],
    ),
    "advantages": (["rl/advantages"], ["tests/rl/test_rl_advantages.py"]),
    "ppo": (
        ["rl/ppo"],
        ["tests/rl/test_rl_ppo_losses.py", "tests/rl/test_rl_ppo_truncation.py", "tests/rl/test_rl_ppo_run.py"],
    ),
    "interp": (
        ["interp/scores", "interp/ablation", "interp/patching"],
        ["tests/interp/test_interp_scores.py", "tests/interp/test_interp_tools.py"],
    ),
}

PYPROJECT = """[tool.pytest.ini_options]
addopts = ["-p", "no:cacheprovider", "-m", "not entries and not slow"]
markers = ["entries: notebooks", "slow: retraining"]
filterwarnings = ["ignore::DeprecationWarning"]

[tool.mutmut]
source_paths = ["src"]  # all of it is copied (the tests import the whole package), only these files mutated
only_mutate = {sources}
pytest_add_cli_args_test_selection = {tests}
# torch is not fork-safe once its thread pools exist: fork each mutant's worker from a clean server process
process_isolation = "forkserver"
# the machine is shared: a test can run several times slower than in the baseline run without hanging
timeout_multiplier = 30.0
use_git_change_detection = false
"""


def stage(group: str) -> Path:
    modules, tests = GROUPS[group]
    root = STAGE / group
    for old in ("src", "tests", "mutants"):  # a fresh start: mutmut caches which tests cover which function
        if (root / old).exists():
            shutil.rmtree(root / old)
    skip_caches = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "src" / "mechlearn", root / "src" / "mechlearn", ignore=skip_caches)
    for sub, folder in TOPICS.items():
        target = root / "src" / "mechlearn" / sub
        target.mkdir()
        for py in (REPO / folder).glob("*.py"):
            text = py.read_text()
            if f"{sub}/{py.stem}" in modules:
                # mutmut skips decorated functions; `@torch.no_grad()` only stops graph building, which the staged
                # tests do not rely on in these modules: drop it so mutmut reaches compute_gae, generate and DLA
                text = re.sub(r"^@torch\.no_grad\(\)\n", "", text, flags=re.M)
            (target / py.name).write_text(text)
    for test in tests:
        (root / test).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / test, root / test)
        conftest = REPO / Path(test).parent / "conftest.py"
        if conftest.exists():
            shutil.copy2(conftest, root / Path(test).parent / "conftest.py")
    sources = [f"src/mechlearn/{m}.py" for m in modules]
    (root / "pyproject.toml").write_text(PYPROJECT.format(sources=sources, tests=tests).replace("'", '"'))
    return root


RECHECK = """
import os, sys, pytest
sys.path.insert(0, "src")
tests = sys.argv[1].split(",")  # test files, and --deselect=<node id> options
os.environ["MUTANT_UNDER_TEST"] = ""  # first the unmutated code: the staged copy must still pass today's tests
if pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]) != 0:
    sys.exit("the unmutated staged code fails the tests: the source changed since the run, so run it afresh")
for name in sys.argv[2:]:
    os.environ["MUTANT_UNDER_TEST"] = name
    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests])
    print(f"RECHECK {name}: {'killed' if code != 0 else 'survived'}", flush=True)
"""


def recheck(group: str, survivors: list[str], deselect: list[str]) -> dict[str, str]:
    """Run the survivors of the last full run against the tests as they are now (new tests included), all in one
    process: mutmut's trampolines read MUTANT_UNDER_TEST at every call, so no re-import is needed per mutant."""
    root = STAGE / group / "mutants"
    _, tests = GROUPS[group]
    for test in tests:
        (root / test).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / test, root / test)
    run = subprocess.run(
        [sys.executable, "-c", RECHECK, ",".join(tests + [f"--deselect={d}" for d in deselect]), *survivors],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if run.returncode:
        sys.exit(run.stderr.strip().splitlines()[-1])
    out = run.stdout
    return dict(line[len("RECHECK ") :].rsplit(": ", 1) for line in out.splitlines() if line.startswith("RECHECK "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", choices=list(GROUPS))
    parser.add_argument("--results", action="store_true", help="only print the results of the last run")
    parser.add_argument("--recheck", action="store_true", help="rerun the last run's survivors with today's tests")
    parser.add_argument("--deselect", action="append", default=[], help="with --recheck: a test node id to skip")
    args = parser.parse_args()
    mutmut = Path(sys.executable).parent / "mutmut"
    for group in args.groups:
        root = STAGE / group if args.results or args.recheck else stage(group)
        if not (args.results or args.recheck):
            subprocess.run([mutmut, "run", "--max-children", "2"], cwd=root, check=False)
        out = subprocess.run([mutmut, "results", "--all", "true"], cwd=root, capture_output=True, text=True).stdout
        statuses = dict(line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)
        if args.recheck:
            # a mutant killed by an earlier recheck stays killed: tests are only ever added
            saved = root / "recheck.json"
            rechecked = json.loads(saved.read_text()) if saved.exists() else {}
            left = ("survived", "no tests")
            survivors = [n for n, s in statuses.items() if s in left and rechecked.get(n) != "killed"]
            rechecked.update(recheck(group, survivors, args.deselect))
            saved.write_text(json.dumps(rechecked, indent=1))
            statuses.update({n: "killed (new tests)" if s == "killed" else s for n, s in rechecked.items()})
        counts: dict[str, Counter] = {}
        for name, status in statuses.items():
            module = re.match(r"(.*?)\.x[_\u01c1]", name).group(1)  # mechlearn.rl.ppo.x_ppo_loss__mutmut_3
            counts.setdefault(module, Counter())[status] += 1
            if not status.startswith("killed"):
                print(f"{status:>10}  {name}")
        for module, c in counts.items():
            total = sum(c.values())
            killed = c["killed"] + c["killed (new tests)"]
            print(f"{module}: {killed}/{total} killed ({100 * killed / total:.1f} %), {dict(c)}")


if __name__ == "__main__":
    main()
