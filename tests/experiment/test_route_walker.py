"""Defect 3 of issue 14: every route of `app.url_map`, walked with junk (hypothesis), never answers 5xx.

Each rule is walked with junk path values, query strings, forms, JSON and raw bodies, with and without a
valid CSRF token, by an anonymous browser and by one that is both a logged-in admin and a participant in
the task. The rule list is read from the app itself, so a route added later is walked without editing this.
"""

from __future__ import annotations

import re
import tempfile
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from admin_support import AdminClient, admin, lite, lite_app, study_template  # noqa: F401 - fixtures
from experiment import create_app
from experiment_client import Participant

ARG_RE = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
FIELDS = ["csrf_token", "read_info", "voluntary", "data_use", "agree", "decline", "volume", "t1", "t2", "t6",
          "age", "hearing", "training", "device", "environment", "familiar", "strategy", "problems", "submit",
          "username", "password", "quota-1", "quota-2", "version", "reason", "confirm", "name", "manifest_path",
          "quota", "seed", "foil_policy", "completion_code", "open_now", "next", "page", "trial", "answer", "id",
          "events", "experiment_id", "endpoint", "_method", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID"]
NUMBERS = ["0", "1", "2", "-1", "²", "٣", "1e9", "0x10", " 7 ", "2147483648", "9" * 30, "1.5", "NaN", "inf", ""]

junk_text = st.one_of(st.sampled_from(NUMBERS), st.text(max_size=40),
                      st.sampled_from(["A", "B", "p1", "t1", "t24", "y", "agree", "../../etc/passwd", "%00", "\x00"]))
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | junk_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8),
                                                                inner, max_size=5),
    max_leaves=12,
)


def _rules() -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule, endpoint, methods) of every route of a freshly made app."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "walker", "INSTANCE_PATH": instance})
        return sorted((r.rule, r.endpoint, tuple(sorted(r.methods - {"HEAD", "OPTIONS"})))
                      for r in app.url_map.iter_rules())


RULES = _rules()


@st.composite
def path_for(draw, rule: str, ids: dict[str, list[int]]) -> str:  # noqa: ANN001 - hypothesis's draw
    """The rule with each variable part replaced: a real id, a plausible value, or junk."""
    def value(match: re.Match[str]) -> str:
        conv, args, name = match["conv"] or "default", match["args"], match["name"]
        if conv == "int":
            choice = st.sampled_from(ids.get(name, [1])) | st.integers(min_value=0, max_value=2**80)
            return str(draw(choice))
        if conv == "any":
            items = [a.strip().strip("'\"") for a in args.split(",")]
            return quote(draw(st.sampled_from(items) | junk_text), safe="")
        return quote(draw(junk_text | st.text(min_size=16, max_size=64)) or "x", safe="")
    return ARG_RE.sub(value, rule)


@st.composite
def request_for(draw, rule: str, methods: tuple[str, ...], ids: dict[str, list[int]], csrf: str | None):  # noqa: ANN001
    """One junk request for a rule: method, URL with a junk query string, headers and body."""
    method = draw(st.sampled_from(methods))
    query = draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), junk_text, max_size=4))
    url = draw(path_for(rule, ids)) + ("?" + urlencode(query) if query else "")
    headers = {"X-CSRFToken": csrf} if csrf and draw(st.booleans()) else {}
    kwargs: dict = {"headers": headers}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kind = draw(st.sampled_from(["none", "form", "json", "raw"]))
        if kind == "form":
            form = draw(st.dictionaries(st.sampled_from(FIELDS), junk_text, max_size=8))
            if csrf and draw(st.booleans()):
                form["csrf_token"] = csrf
            kwargs["data"] = form
        elif kind == "json":
            kwargs["json"] = draw(json_value)
        elif kind == "raw":
            kwargs["data"] = draw(st.binary(max_size=200))
            kwargs["content_type"] = draw(st.sampled_from(
                ["application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain",
                 "multipart/form-data; boundary=x"]))
    return method, url, kwargs


@pytest.fixture
def walker(lite, lite_app):
    """A browser that is a logged-in admin and a participant in the task, and the ids worth hitting."""
    admin = AdminClient(lite_app)
    assert admin.login().status_code == 302
    p = Participant(lite_app, lite.experiment_id)
    p.client = admin.client  # one cookie jar: admin and participant at once
    p.ready()
    p.present()
    cookie = admin.client.get_cookie("tuneback").value
    with lite_app.app_context():
        from experiment.models import ParticipantSession
        from experiment.webdb import get_db

        session_id = get_db().query(ParticipantSession).filter_by(token=p.token).one().id
    ids = {"experiment_id": [lite.experiment_id], "session_id": [session_id]}
    return lite_app, cookie, p.csrf, ids


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
@pytest.mark.parametrize(("rule", "endpoint", "methods"), RULES, ids=[f"{e}:{r}" for r, e, _ in RULES])
def test_no_route_answers_5xx_to_junk(rule, endpoint, methods, who, walker):
    app, cookie, csrf, ids = walker
    client = app.test_client()

    @settings(max_examples=25 if who == "signed-in" else 8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(request=request_for(rule, methods, ids, csrf if who == "signed-in" else None))
    def walk(request) -> None:
        method, url, kwargs = request
        if who == "signed-in":  # a logout or an erasure in an earlier example must not end the walk
            client.set_cookie("tuneback", cookie)
        else:
            client.delete_cookie("tuneback")
        response = client.open(url, method=method, **kwargs)
        body = response.get_data().decode("utf-8", "replace")
        assert response.status_code < 500, (method, url, kwargs, response.status_code, body[:300])
        assert "Traceback" not in body

    walk()


def test_the_walker_covers_every_route():
    """The participant, API and admin routes are all in the walk (a rule list read from the app itself)."""
    endpoints = {e for _, e, _ in RULES}
    assert {"participant.index", "participant.consent", "api.answer_trial", "api.events", "api.audio",
            "admin.login", "admin.quotas", "admin.preview", "admin.audit"} <= endpoints
    assert len(RULES) >= 30


# The cases the issue names, as plain regression tests (the walk above finds them too, but not every run).


@pytest.mark.parametrize("query", ["experiment_id=2", "endpoint=x", "_method=POST", "_external=1", "_anchor=x",
                                   "PROLIFIC_PID=abc&_scheme=ftp"])
def test_the_root_redirect_carries_no_url_for_arguments(query, lite, lite_app):
    response = lite_app.test_client().get(f"/?{query}")
    assert response.status_code == 302
    assert response.headers["Location"].split("?")[0].endswith(f"/study/{lite.experiment_id}/")


@pytest.mark.parametrize("body", [[1, 2], "text", 7, {"read_info": [1, {"x": 2}]}])
def test_json_posted_to_a_form_page_is_a_4xx(body, lite, lite_app):
    p = Participant(lite_app, lite.experiment_id)
    p.page("consent")
    for path in (f"/study/{lite.experiment_id}/consent", "/admin/login"):
        response = p.client.post(path, json=body, headers={"X-CSRFToken": p.csrf})
        assert 400 <= response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize("raw", ["²", "٣", "1" * 40, "-1", " "])
def test_admin_numbers_are_ascii_digits_in_range(raw, admin, lite):
    eid = lite.experiment_id
    assert admin.get(f"/admin/audit?page={raw}").status_code == 200  # falls back to page 1
    admin.get(f"/admin/studies/{eid}")
    assert admin.post(f"/admin/studies/{eid}/quotas", {"quota-1": raw, "quota-2": "8"}).status_code == 400
    assert admin.post(f"/admin/studies/{eid}/preview", {"version": raw}).status_code == 400
