"""`record`: a day's quoted numbers land in results.json whole, readable like any other file of the day."""

import json
import os

from mechlearn.project import umask
from mechlearn.results import RESULTS_FILE, record


def test_results_file_gets_the_usual_mode_not_a_private_temporary_files(tmp_path):
    assert record("acc", 0.975, "97.5 %", folder=tmp_path) == "97.5 %"
    path = tmp_path / RESULTS_FILE
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask(), "results.json kept mkstemp's private 0600 mode"
    record("loss", 1.5, folder=tmp_path)
    expected = {"acc": {"value": 0.975, "text": "97.5 %"}, "loss": {"value": 1.5, "text": "1.5"}}
    assert json.loads(path.read_text()) == expected
    assert [p.name for p in tmp_path.iterdir()] == [RESULTS_FILE], "a temporary file was left behind"
