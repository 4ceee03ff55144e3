"""analysis.cli: `tuneback analysis analyze` from an export; errors are AnalysisError, printed as one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from analysis.cli import cli
from analysis.errors import AnalysisError


@pytest.fixture(scope="module")
def export(study, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "export.csv"
    study.to_csv(path, index=False)
    return path


def test_analyze_from_export(export, tmp_path):
    result = CliRunner().invoke(cli, ["analyze", "--export", str(export), "--out", str(tmp_path),
                                      "--seed", "5", "--power-reps", "20"])
    assert result.exit_code == 0, result.output
    assert "14 listeners" in result.output and "report.html" in result.output
    assert result.output.startswith("Listeners chose the matching reconstruction on ")  # the paragraph comes first
    assert (tmp_path / "results.json").is_file() and (tmp_path / "report.html").is_file()


def test_keep_failed_headphone_flag(export, tmp_path):
    result = CliRunner().invoke(cli, ["analyze", "--export", str(export), "--out", str(tmp_path),
                                      "--keep-failed-headphone", "--power-reps", "20"])
    assert result.exit_code == 0 and "15 listeners" in result.output


def test_listening_check_options_reach_the_rules(export, tmp_path):
    import json

    result = CliRunner().invoke(cli, ["analyze", "--export", str(export), "--out", str(tmp_path), "--power-reps",
                                      "20", "--max-catch-misses", "1", "--too-fast-ms", "9000", "--keep-too-fast"])
    assert result.exit_code == 0, result.output
    rules = json.loads((tmp_path / "results.json").read_text())["exclusions"]["primary"]["rules"]
    assert (rules["max_catch_misses"], rules["too_fast_ms"], rules["exclude_too_fast"]) == (1, 9000.0, False)
    bad = CliRunner().invoke(cli, ["analyze", "--export", str(export), "--max-catch-misses", "-1"])
    assert bad.exit_code == 2 and "max-catch-misses" in bad.output


@pytest.mark.parametrize("args, message", [
    ([], "exactly one input"),
    (["--export", "x.csv", "--db", "sqlite://"], "exactly one input"),
    (["--db", "sqlite://"], "--study"),
    (["--export", "missing.csv"], "not found"),
])
def test_bad_invocations_raise_analysis_error(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["analyze", *args, "--out", str(tmp_path)])
    assert isinstance(result.exception, AnalysisError) and message in str(result.exception)


def test_alias_is_the_same_command(tmp_path):
    """`tuneback analyze` and `tuneback analysis analyze` are one command: same object, same behaviour."""
    from click.testing import CliRunner

    from tuneback.cli import build_cli

    top = build_cli()
    assert top.get_command(None, "analyze") is top.get_command(None, "analysis").get_command(None, "analyze")
    missing = str(tmp_path / "missing.csv")
    short, long = (CliRunner().invoke(top, [*verb, "--export", missing]) for verb in (["analyze"],
                                                                                     ["analysis", "analyze"]))
    assert short.exit_code == long.exit_code != 0 and short.output == long.output


def test_top_level_prints_one_line(capsys, tmp_path):
    from tuneback.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["analysis", "analyze", "--export", str(tmp_path / "none.csv")])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: export file not found") and "\n" not in err
