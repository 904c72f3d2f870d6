"""Stale detection: the hashes recorded by `mechlearn run` against the sources as they are now."""

import importlib.machinery

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mechlearn import provenance as prov


def test_imports_are_found_in_every_form():
    source = """
import numpy as np
import mechlearn.backprop.value
from mechlearn.backprop import gradcheck, Value
from mechlearn import backprop as bp
%matplotlib inline
!echo shell lines are ignored
"""
    found = prov.imported_modules(source)
    assert {"mechlearn.backprop.value", "mechlearn.backprop", "mechlearn.backprop.gradcheck", "mechlearn"} <= found
    assert "mechlearn.backprop.Value" not in found, "a class is not a module"
    assert not any(name.startswith("numpy") for name in found)


def test_relative_imports_resolve_against_the_importing_module():
    assert prov.imported_modules("from .gradcheck import x", current="mechlearn.backprop.value") == {
        "mechlearn.backprop.gradcheck"
    }
    assert prov.imported_modules("from . import value", current="mechlearn.backprop", is_package=True) >= {
        "mechlearn.backprop"
    }
    assert prov.imported_modules("from ..core import y", current="mechlearn.backprop.value") == {"mechlearn.core"}


def test_hashes_follow_imports_transitively_through_the_real_package():
    hashes = prov.module_hashes({"mechlearn.backprop"})
    # the package's __init__ imports value, which imports gradcheck: all three, and the root package
    assert {"mechlearn", "mechlearn.backprop", "mechlearn.backprop.value", "mechlearn.backprop.gradcheck"} <= set(
        hashes
    )
    assert all(len(h) == 16 for h in hashes.values())


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A throwaway `mechlearn.fake` package on disk, so sources can be edited without touching the real ones."""
    files = {
        "mechlearn.fake": tmp_path / "fake" / "__init__.py",
        "mechlearn.fake.core": tmp_path / "fake" / "core.py",
        "mechlearn.fake.helper": tmp_path / "fake" / "helper.py",
    }
    files["mechlearn.fake"].parent.mkdir()
    files["mechlearn.fake"].write_text("")
    files["mechlearn.fake.core"].write_text("from .helper import twice\n\ndef f(x):\n    return twice(x)\n")
    files["mechlearn.fake.helper"].write_text("def twice(x):\n    return 2 * x\n")
    real_spec = prov._spec

    def spec(name):
        if name in files:
            s = importlib.machinery.ModuleSpec(name, None, origin=str(files[name]))
            if name == "mechlearn.fake":
                s.submodule_search_locations = [str(files[name].parent)]
            return s
        return real_spec(name)

    monkeypatch.setattr(prov, "_spec", spec)
    return files


def recorded_notebook():
    nb = new_notebook(cells=[new_code_cell("from mechlearn.fake.core import f\nf(2)")])
    nb.metadata[prov.METADATA_KEY] = {"provenance": prov.provenance(nb)}
    return nb


def test_fresh_record_is_not_stale(fake_package):
    assert prov.stale_reasons(recorded_notebook()) == []


def test_editing_a_transitively_imported_module_makes_the_entry_stale(fake_package):
    nb = recorded_notebook()
    fake_package["mechlearn.fake.helper"].write_text("def twice(x):\n    return x + x  # changed\n")
    assert prov.stale_reasons(nb) == ["mechlearn.fake.helper changed"]


def test_deleting_a_module_makes_the_entry_stale(fake_package):
    nb = recorded_notebook()
    fake_package["mechlearn.fake.helper"].unlink()
    assert prov.stale_reasons(nb) == ["mechlearn.fake.helper changed"]


def test_editing_a_code_cell_makes_the_entry_stale(fake_package):
    nb = recorded_notebook()
    nb.cells[0].source += "\nf(3)"
    assert prov.stale_reasons(nb) == ["its code cells changed since it was run"]


def test_importing_a_new_module_is_noticed(fake_package):
    nb = recorded_notebook()
    nb.cells.append(new_code_cell("import mechlearn.backprop"))
    reasons = prov.stale_reasons(nb)
    assert "its code cells changed since it was run" in reasons
    assert "now imports mechlearn.backprop" in reasons


def test_outputs_changed_after_the_run_are_stale_unless_recorded_before_output_hashes(fake_package):
    """Catches outputs saved from an editor (cells run by hand) passing as the run's; and a record from before
    output hashes were kept being failed for lacking one."""
    nb = recorded_notebook()
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "4"}, execution_count=3)]
    assert prov.stale_reasons(nb) == [prov.OUTPUTS_CHANGED]
    del nb.metadata[prov.METADATA_KEY]["provenance"]["outputs"]
    assert prov.stale_reasons(nb) == []


def test_never_run_notebook_is_stale():
    assert prov.stale_reasons(nbformat.v4.new_notebook()) == [
        "never executed by `mechlearn run` (no recorded provenance)"
    ]


def test_the_bookkeeping_modules_are_not_dependencies():
    # a day that caches its training run imports mechlearn.artefacts; editing that must not retrain everything
    hashes = prov.module_hashes({"mechlearn.artefacts", "mechlearn.backprop"})
    assert not set(hashes) & prov.BOOKKEEPING
    assert "mechlearn.backprop.value" in hashes
