"""`tuneback experiment trials`: a study's exact scored trials as JSON, for the offline ideal observer."""

import json

import pytest
from click.testing import CliRunner
from experiment_factory import make_manifest

from experiment.cli import cli
from experiment.design_export import study_trials, triples
from experiment.errors import ExperimentError
from tuneback.demo import find_or_create_study


def test_trials_of_both_versions_without_practice(database_url, tmp_path):
    manifest = make_manifest(tmp_path / "clips")
    design = study_trials(database_url, find_or_create_study(database_url, manifest))
    clips = {c["id"]: c for c in json.loads(manifest.read_text())["clips"]}
    assert [v["number"] for v in design["versions"]] == [1, 2]
    for x, match, foil in triples(design):
        assert clips[match]["role"] == clips[foil]["role"] == "reconstruction"
        assert clips[x]["role"] == "target" and clips[match]["target"] == x
        assert clips[foil]["target"] != x


def test_cli_writes_the_file(sqlite_url, tmp_path):
    study = find_or_create_study(sqlite_url, make_manifest(tmp_path / "clips"))
    out = tmp_path / "trials.json"
    result = CliRunner().invoke(cli, ["trials", "--study", str(study), "--out", str(out), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "48 trials of 2 versions" in result.output
    assert len(triples(json.loads(out.read_text()))) == 48


def test_unknown_study_is_a_clear_error(sqlite_url, tmp_path):
    find_or_create_study(sqlite_url, make_manifest(tmp_path / "clips"))
    with pytest.raises(ExperimentError, match="study 999 does not exist"):
        study_trials(sqlite_url, 999)
