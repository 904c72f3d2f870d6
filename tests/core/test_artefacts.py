"""Cached artefacts: made once, loaded after, remade when the code that made them changes."""

import json

import torch

from mechlearn import artefacts, provenance


def test_made_once_then_loaded(tmp_path, monkeypatch):
    monkeypatch.delenv("MECHLEARN_RETRAIN", raising=False)
    calls = []
    make = lambda: calls.append(1) or {"loss": [3.0, 2.0]}
    path = tmp_path / "metrics.json"
    assert artefacts.cached_json(path, make, ["mechlearn.backprop"]) == {"loss": [3.0, 2.0]}
    assert artefacts.cached_json(path, make, ["mechlearn.backprop"]) == {"loss": [3.0, 2.0]}
    assert len(calls) == 1
    side = json.loads((tmp_path / "metrics.json.provenance.json").read_text())
    assert "mechlearn.backprop.value" in side["modules"]


def test_remade_when_a_dependency_changes_or_retrain_is_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("MECHLEARN_RETRAIN", raising=False)
    calls = []
    make = lambda: calls.append(1) or {"w": torch.arange(3.0)}
    path = tmp_path / "model.safetensors"
    artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    real = provenance.module_hashes
    edited = lambda names, **kw: {**real(names, **kw), "mechlearn.backprop": "edited"}
    monkeypatch.setattr(artefacts, "module_hashes", edited)
    out = artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert torch.equal(out["w"], torch.arange(3.0)) and len(calls) == 2
    out = artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert len(calls) == 2, "after remaking, the new artefact is current"
    monkeypatch.setenv("MECHLEARN_RETRAIN", "1")
    artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert len(calls) == 3


MODULE = '''"""A module."""
import math  # the only import


def area(r):
    """Area of a circle of radius r."""
    return math.pi * r**2  # pi r^2
'''


def test_comment_and_docstring_edits_leave_the_code_hash_alone_but_code_edits_do_not():
    base = provenance.code_only(MODULE)
    reworded = MODULE.replace("Area of a circle", "The area of a disc").replace("# pi r^2", "# why: A = pi r^2")
    assert provenance.code_only(reworded) == base, "a docstring or comment fix would retrain every model below it"
    assert provenance.code_only(MODULE.replace("r**2", "r**3")) != base, "a real change must make artefacts stale"
    assert provenance.code_only(MODULE.replace('"# ', '"# ')) == base
    assert "#" not in provenance.code_only('x = 1  # c\n') and '"# kept"' in provenance.code_only('s = "# kept"\n')


def test_sidecars_record_code_hashes_and_old_full_text_sidecars_still_count(tmp_path, monkeypatch):
    monkeypatch.delenv("MECHLEARN_RETRAIN", raising=False)
    calls = []
    make = lambda: calls.append(1) or {"loss": [1.0]}
    path = tmp_path / "metrics.json"
    artefacts.cached_json(path, make, ["mechlearn.backprop"])
    side = tmp_path / "metrics.json.provenance.json"
    record = json.loads(side.read_text())
    assert record["hashing"] == "code"
    assert record["modules"] == provenance.module_hashes({"mechlearn.backprop"}, code_only_hash=True)
    # a sidecar written before code hashes existed holds full-text hashes and no "hashing" field
    legacy = {"modules": provenance.module_hashes({"mechlearn.backprop"}), "depends_on": ["mechlearn.backprop"]}
    side.write_text(json.dumps(legacy))
    assert artefacts.is_current(path, ["mechlearn.backprop"]), "old sidecars must not force a retrain"
    artefacts.cached_json(path, make, ["mechlearn.backprop"])
    assert len(calls) == 1


def test_attribute_docstrings_under_dataclass_fields_are_not_code():
    config = 'class Args:\n    lr: float = 1e-3\n    """the step size"""\n'
    assert provenance.code_only(config.replace("the step size", "Adam's step size")) == provenance.code_only(config)
    assert provenance.code_only(config.replace("1e-3", "1e-4")) != provenance.code_only(config)


def test_check_names_an_artefact_replaced_by_a_copy_from_older_code(project, write_day, capsys):
    """A run whose cache was overwritten by an older copy (day 67's probes once were) leaves a current notebook
    beside a stale artefact: `check` must say so, and name the file."""
    from mechlearn.cli import main
    from mechlearn.execute import run_entry

    path = write_day(project, 1)
    artefacts.cached_json(path.parent / "probes.json", lambda: [1, 2], ["mechlearn.backprop"])
    run_entry(path, progress=False)
    assert artefacts.stale_artefacts(path.parent) == []
    side = path.parent / "probes.json.provenance.json"
    record = json.loads(side.read_text())
    record["modules"]["mechlearn.backprop.value"] = "made by older code"
    side.write_text(json.dumps(record))
    assert artefacts.stale_artefacts(path.parent) == ["probes.json"]
    capsys.readouterr()
    assert main(["check", str(path)]) == 1
    assert "stale: probes.json was made by code that has changed" in capsys.readouterr().out


def test_a_weights_and_curve_pair_is_remade_together_when_either_is_stale(tmp_path, monkeypatch):
    """A curve lost or stale beside current weights must not be paired with them: both are remade by one training."""
    monkeypatch.delenv("MECHLEARN_RETRAIN", raising=False)
    calls = []

    def train():
        calls.append(1)
        return {"w": torch.full((2,), float(len(calls)))}, {"run": len(calls)}

    w_path, c_path = tmp_path / "model.safetensors", tmp_path / "curve.json"
    weights, curve = artefacts.cached_training(w_path, c_path, train, ["mechlearn.backprop"])
    assert curve == {"run": 1} and torch.equal(weights["w"], torch.ones(2))
    assert artefacts.cached_training(w_path, c_path, train, ["mechlearn.backprop"])[1] == {"run": 1}
    assert len(calls) == 1, "a current pair is loaded, not retrained"
    c_path.unlink()
    weights, curve = artefacts.cached_training(w_path, c_path, train, ["mechlearn.backprop"])
    assert len(calls) == 2 and curve == {"run": 2}
    assert torch.equal(weights["w"], torch.full((2,), 2.0)), "the weights returned are the ones the new curve describes"
    from safetensors.torch import load_file

    assert torch.equal(load_file(str(w_path))["w"], torch.full((2,), 2.0)), "the saved weights were not replaced"
