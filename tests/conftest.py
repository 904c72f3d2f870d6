from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty log: `_quarto.yml` beside `daily_logs/`, as the CLI looks for them; cwd set to it."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    (tmp_path / "daily_logs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MECHLEARN_ROOT", raising=False)
    return tmp_path
