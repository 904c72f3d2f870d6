"""`write_atomic`: a file holds its old bytes or all of its new ones, never a part, and keeps its permissions."""

import os
import stat

import pytest

from mechlearn.project import write_atomic


def test_write_atomic_replaces_the_whole_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "grid.md"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "mkstemp's private 0600 must not replace the file's mode"
    write_atomic(tmp_path / "fresh.md", b"bytes")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "fresh.md").stat().st_mode) == 0o666 & ~mask, "a new file gets the usual mode"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    """Catches writing in place (a crash mid-write truncates the file) and temporary files left behind."""
    path = tmp_path / "grid.md"
    path.write_text("old")

    def replace_fails(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.md"]
