"""One-line errors from every experiment CLI verb (issue 29), and read-only verbs that never create a file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tuneback.cli import main


def _run(argv: list[str], capsys) -> tuple[int, str]:  # noqa: ANN001
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    return exit_info.value.code, err


@pytest.mark.parametrize("verb", [
    ["experiment", "serve"], ["experiment", "export", "--study", "1", "--out", "OUT"],
    ["experiment", "trials", "--study", "1", "--out", "OUT/t.json"], ["experiment", "configure", "1"],
    ["experiment", "migrate"], ["admin", "deactivate-user", "bob"],
])
@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db", "postgresql+psycopg://u@127.0.0.1:1/nodb"])
def test_a_bad_database_url_is_one_line(verb, url, capsys, tmp_path):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in verb] + ["--db", url]
    code, err = _run(argv, capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and any(w in err for w in ("not a database URL", "only sqlite", "cannot open"))


@pytest.mark.parametrize("verb", [
    ["experiment", "serve"], ["experiment", "export", "--study", "1", "--out", "OUT"],
    ["experiment", "trials", "--study", "1", "--out", "OUT/t.json"], ["experiment", "configure", "1"],
    ["admin", "deactivate-user", "bob"],
])
def test_a_mistyped_sqlite_path_creates_nothing(verb, capsys, tmp_path):
    """Issue 29: `export --db <typo>` created an empty database then a traceback; `serve` served the empty file."""
    typo = tmp_path / "tunebak.sqlite"
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in verb] + ["--db", f"sqlite:///{typo}"]
    code, err = _run(argv, capsys)
    assert code == 2 and f"no database at {typo}" in err and err.count("\n") == 1
    assert not typo.exists() and not (tmp_path / "out").exists()


def test_a_missing_study_is_one_line(sqlite_url, manifest_path, capsys, tmp_path):
    main(["experiment", "create", "--manifest", str(manifest_path), "--db", sqlite_url])
    capsys.readouterr()
    for argv in (["experiment", "export", "--study", "9", "--out", str(tmp_path / "x")],
                 ["experiment", "trials", "--study", "9", "--out", str(tmp_path / "t.json")],
                 ["experiment", "configure", "9", "--researcher-contact", "me"]):
        code, err = _run([*argv, "--db", sqlite_url], capsys)
        assert code == 2 and "9" in err and err.count("\n") == 1, err


def test_a_busy_port_fails_before_any_link_is_printed(sqlite_url, manifest_path, capsys):
    main(["experiment", "create", "--manifest", str(manifest_path), "--db", sqlite_url])
    capsys.readouterr()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["experiment", "serve", "--db", sqlite_url, "--port", str(port)])
        out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and f"port {port} on 127.0.0.1 is busy" in err
    assert "participant link" not in out


def test_serve_refuses_a_database_that_does_not_exist(tmp_path, capsys):
    code, err = _run(["experiment", "serve", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}"], capsys)
    assert code == 2 and "no database at" in err and not Path(tmp_path / "none.sqlite").exists()
