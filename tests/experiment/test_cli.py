"""`tuneback experiment create/migrate`, wired through the top-level CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from experiment.cli import cli
from experiment.db import make_engine
from experiment.models import Experiment, TrialTemplate, Version
from tuneback.cli import build_cli, main


def test_create_takes_the_screen_out_and_listening_settings(sqlite_url, manifest_path):
    result = CliRunner().invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url,
                                      "--completion-code", "DONE1", "--screened-out-code", "SCREEN1",
                                      "--headphone-retries", "1", "--require-listening"])
    assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            s = conn.execute(sa.select(Experiment.settings)).scalar_one()
    finally:
        engine.dispose()
    assert (s["screened_out_code"], s["headphone_retries"], s["require_listening"]) == ("SCREEN1", 1, True)
    bad = CliRunner().invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url,
                                   "--headphone-retries", "2"])
    assert bad.exit_code == 2 and "headphone-retries" in bad.output


def test_create_prints_the_id_and_builds_the_study(sqlite_url, manifest_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url, "--quota", "5",
                                 "--seed", "3", "--foil-policy", "same-song", "--completion-code", "ABC123"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1"
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            e = conn.execute(sa.select(Experiment)).one()
            assert (e.state, e.foil_policy, e.seed, e.settings["completion_code"]) == ("open", "same-song", 3, "ABC123")
            assert conn.execute(sa.select(Version.quota)).scalars().all() == [5, 5]
            assert conn.execute(sa.select(sa.func.count()).select_from(TrialTemplate)).scalar() == 56
    finally:
        engine.dispose()


def test_group_is_mounted_on_tuneback():
    top = build_cli()
    assert "experiment" in top.list_commands(None) and top.get_command(None, "experiment") is cli
    assert {"create", "migrate", "serve"} <= set(cli.commands)


def test_bad_manifest_is_one_line_error(tmp_path, sqlite_url, capsys):
    bad = tmp_path / "manifest.json"
    bad.write_text("[]")
    try:
        main(["experiment", "create", "--manifest", str(bad), "--db", sqlite_url])
    except SystemExit as exc:
        assert exc.code == 2
    assert "error: manifest" in capsys.readouterr().err


def test_migrate(sqlite_url):
    result = CliRunner().invoke(cli, ["migrate", "--db", sqlite_url])
    from experiment.db import head_revision

    assert result.exit_code == 0 and f"revision {head_revision()}" in result.output  # the newest migration


def _settings(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(Experiment.settings)).scalar_one()
    finally:
        engine.dispose()


def test_create_and_configure_take_the_participant_text(sqlite_url, manifest_path, tmp_path):
    consent = tmp_path / "consent.txt"
    consent.write_text("Wir untersuchen Musik.\n\nZweiter Absatz.", encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "create", "--manifest", str(manifest_path), "--db", sqlite_url, "--language", "de",
        "--expected-minutes", "25", "--consent-text", f"@{consent}", "--researcher-contact", "Dr. A, a@example.org",
        "--ethics-reference", "EK-2026-17", "--data-retention", "10 Jahre", "--catch-trials", "2",
        "--too-fast-ms", "1500"])
    assert result.exit_code == 0, result.output
    s = _settings(sqlite_url)
    assert (s["language"], s["expected_minutes"], s["consent_text"], s["researcher_contact"], s["ethics_reference"],
            s["data_retention"], s["catch_trials"], s["too_fast_ms"]) == (
        "de", 25, "Wir untersuchen Musik.\n\nZweiter Absatz.", "Dr. A, a@example.org", "EK-2026-17", "10 Jahre", 2,
        1500)
    changed = CliRunner().invoke(cli, ["configure", "1", "--db", sqlite_url, "--language", "en",
                                       "--ethics-reference", ""])
    assert changed.exit_code == 0 and "language changed" in changed.output, changed.output
    s = _settings(sqlite_url)
    assert s["language"] == "en" and s["ethics_reference"] is None and s["data_retention"] == "10 Jahre"


@pytest.mark.parametrize("args", [["--language", "fr"], ["--expected-minutes", "0"], ["--catch-trials", "13"],
                                  ["--consent-text", "@/no/such/file"]])
def test_create_refuses_bad_text_settings(sqlite_url, manifest_path, args):
    result = CliRunner().invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url, *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_configure_refuses_too_long_text(sqlite_url, manifest_path, capsys):
    assert CliRunner().invoke(cli, ["create", "--manifest", str(manifest_path), "--db", sqlite_url]).exit_code == 0
    try:
        main(["experiment", "configure", "1", "--db", sqlite_url, "--ethics-reference", "x" * 201])
    except SystemExit as exc:
        assert exc.code == 2
    assert "ethics_reference is 201 characters long" in capsys.readouterr().err
