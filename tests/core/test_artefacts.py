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
    monkeypatch.setattr(artefacts, "module_hashes", lambda names: {**real(names), "mechlearn.backprop": "edited"})
    out = artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert torch.equal(out["w"], torch.arange(3.0)) and len(calls) == 2
    out = artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert len(calls) == 2, "after remaking, the new artefact is current"
    monkeypatch.setenv("MECHLEARN_RETRAIN", "1")
    artefacts.cached_tensors(path, make, ["mechlearn.backprop"])
    assert len(calls) == 3
