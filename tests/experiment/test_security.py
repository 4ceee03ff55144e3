"""Security headers on every response; the factory reads its settings from the environment."""

from __future__ import annotations

import pytest

from experiment import create_app
from experiment.config import Config, normalise_url


@pytest.mark.parametrize("path", ["/", "/study/{eid}/", "/study/{eid}/consent", "/study/{eid}/task", "/nope",
                                  "/api/study/{eid}/state"])
def test_security_headers_everywhere(app, study, path):
    response = app.test_client().get(path.format(eid=study.experiment_id))
    h = response.headers
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert "script-src 'self'" in h["Content-Security-Policy"] and "unsafe-inline" not in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert h["Cache-Control"] == "no-store"
    assert response.status_code < 500


def test_session_cookie_is_httponly_and_samesite(participant):
    p = participant()
    response = p.start()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("TUNEBACK_TRIAL_GRACE_S", "2.5")
    monkeypatch.setenv("TUNEBACK_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("TUNEBACK_INSTANCE_PATH", str(tmp_path))
    config = Config.from_sources()
    assert config.DATABASE_URL == "postgresql+psycopg://u@h/db"
    assert config.TRIAL_GRACE_S == 2.5 and config.SESSION_COOKIE_SECURE is True
    assert config.SECRET_KEY and (tmp_path / "secret_key").read_text() == config.SECRET_KEY
    assert Config.from_sources().SECRET_KEY == config.SECRET_KEY  # every worker shares it
    assert normalise_url("sqlite:///x") == "sqlite:///x"


def test_factory_defaults_to_sqlite_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TUNEBACK_INSTANCE_PATH", str(tmp_path))
    app = create_app({"MIGRATE_ON_START": True, "EXTRA_SETTING": 1})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'tuneback.sqlite'}"
    assert app.config["EXTRA_SETTING"] == 1 and (tmp_path / "tuneback.sqlite").exists()
    assert app.test_client().get("/").status_code == 200


def test_bad_page_posts_are_4xx(participant):
    p = participant()
    p.start()
    p.page("headphones")
    for volume in ("loud", "nan", "7"):
        assert p.post("headphones", {"volume": volume, **{f"t{k}": "1" for k in range(1, 7)}}).status_code == 400
    assert p.headphones(volume="0.5").status_code == 302  # passed (all "1" would now screen out)
    p.instructions()
    p.finish_trials()
    p.page("questionnaire")
    response = p.post("questionnaire", {"age": "'; drop table session; --"})
    assert response.status_code == 400 and "age" in response.get_data(as_text=True)
    assert p.client.post(f"/study/{p.eid}/questionnaire", data={"strategy": "x" * 100_000}).status_code == 413


def test_trailing_slash_redirect_survives_the_error_handlers(app, study):
    response = app.test_client().get(f"/study/{study.experiment_id}")
    assert response.status_code == 308 and response.headers["Location"].endswith(f"/study/{study.experiment_id}/")
