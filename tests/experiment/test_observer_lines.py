"""Issue 25: observer lines stored with a study, and the admin page's accuracy per foil kind beside them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from admin_support import admin, admin_app, fill, lite, lite_app, study_template  # noqa: F401 - fixtures
from experiment.errors import ExperimentError
from experiment.observer_lines import store_observer_lines

LINE = {"n": 384, "correct": 266, "accuracy": 266 / 384, "ci95": [0.644, 0.739]}
LINES = {"source": "test", "kinds": {
    "different-song": {"every_pair": {**LINE, "accuracy": 0.871}, "identity_every_pair": {**LINE, "accuracy": 0.854}},
    "same-song": {"every_pair": LINE, "identity_every_pair": {**LINE, "correct": 177, "accuracy": 177 / 384},
                  "study_trials": {"n": 24, "correct": 18, "accuracy": 0.75}}}}


def test_mixed_study_page_shows_accuracy_per_kind_beside_the_stored_lines(admin, lite, clock):
    eid = lite.experiment_id
    fill(lite.url, eid, clock, {"a": {}, "b": {}})
    page = admin.get(f"/admin/studies/{eid}").get_data(as_text=True)
    assert "foil mixed" in page and "Accuracy per foil kind" in page and "not stored" in page
    store_observer_lines(lite.url, eid, LINES)
    page = admin.get(f"/admin/studies/{eid}").get_data(as_text=True)
    table = page[page.index('id="kinds"'):page.index("Per-clip accuracy")]
    assert "different-song" in table and "same-song" in table
    assert table.count("/24<") == 2  # two listeners, 12 + 12 each: 24 answers per kind
    assert "69% of 384" in table and "46% of 384" in table and "75% of 24" in table and "85% of 384" in table


@pytest.mark.parametrize(("lines", "message"), [
    ({}, "kinds"),
    ({"kinds": {"sideways": {}}}, "sideways"),
    ({"kinds": {"same-song": {"best_guess": LINE}}}, "best_guess"),
    ({"kinds": {"same-song": {"every_pair": {"n": 3}}}}, "n, correct and accuracy"),
])
def test_bad_lines_are_refused(lite, lines, message):
    with pytest.raises(ExperimentError, match=message):
        store_observer_lines(lite.url, lite.experiment_id, lines)


def test_cli_stores_lines_and_refuses_a_missing_study(lite, tmp_path):
    from experiment.cli import cli

    path = tmp_path / "lines.json"
    path.write_text(json.dumps(LINES))
    result = CliRunner().invoke(cli, ["lines", "--study", str(lite.experiment_id), "--file", str(path),
                                      "--db", lite.url])
    assert result.exit_code == 0 and "different-song, same-song" in result.output
    result = CliRunner().invoke(cli, ["lines", "--study", "999", "--file", str(path), "--db", lite.url])
    assert result.exit_code != 0 and "study 999 does not exist" in str(result.exception)  # one line via tuneback.cli


def test_analysis_reads_the_stored_lines(lite):
    from analysis.foil_kinds import study_lines

    assert study_lines(lite.url, lite.experiment_id) is None
    store_observer_lines(lite.url, lite.experiment_id, LINES)
    assert study_lines(lite.url, lite.experiment_id) == LINES
