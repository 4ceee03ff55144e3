"""Attacks on the running app: each is refused with a 4xx and a reason, never a 500, and leaks nothing.

What test_integrity.py, test_audio.py, test_security.py and test_admin_auth.py already cover is not repeated
here (the same answer id twice, another trial's id, CSRF-less answer and consent, forged audio token, other
session's audio, traversal with %2F, admin CSRF-less posts, the login throttle's rules). This module adds:
answers replayed later and with forged fields, another session's CSRF token, another study, forms out of
order, nested / non-UTF-8 / non-finite JSON, oversized bodies on every route, traversal and guessing on audio
and static URLs, SQL-injection strings in every field a participant or an admin can send, CSRF-less posts on
every participant route, 1 000 wrong admin passwords, and the security headers on every kind of response.
The live-server versions (raw paths no client normalises, gunicorn in front) are in tests/e2e/test_live_http.py.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid

import pytest
import sqlalchemy as sa
from markupsafe import escape

from admin_support import PASSWORD, AdminClient, add_admin, admin_app
from experiment.db import make_engine
from experiment.manifest import load_manifest
from experiment.models import AdminUser, AuditLog, Event, Experiment, ParticipantSession, Presentation, Questionnaire
from experiment.study import create_experiment
from experiment.webdb import engine_of

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE session; --",
    '" OR 1=1 --',
    "') UNION SELECT password_hash FROM admin_user --",
    "%' AND 1=0 UNION SELECT NULL, NULL --",
    "1' AND pg_sleep(5)--",
    "\\'; DELETE FROM presentation; --",
    "<script>alert(1)</script>",
    "${7*7}{{7*7}}",
    "\u0000",
]
SECRET_WORDS = re.compile(r"Traceback|sqlalchemy|psycopg|sqlite3|SELECT |/work/|/tmp/|\.py\b|test-secret-key",
                          re.IGNORECASE)
AUDIO_URL = re.compile(r"/api/study/\d+/audio/[A-Za-z0-9_-]+")


def clip_words(manifest_path) -> re.Pattern[str]:  # noqa: ANN001
    """Clip ids, songs and EEG participants of the manifest as whole words."""
    manifest = load_manifest(manifest_path, check_files=False)
    words = {c.id for c in manifest.clips} | {c.song for c in manifest.clips}
    words |= {c.eeg_participant for c in manifest.clips if c.eeg_participant}
    return re.compile(r"(?<![A-Za-z0-9_-])(" + "|".join(sorted(words, key=len, reverse=True)) + r")(?![A-Za-z0-9_-])")


def refused(response, manifest_path, *statuses: int, echo: str = "") -> dict | str:  # noqa: ANN001
    """A 4xx (one of `statuses` if given) whose body names no internals, no clip and no secret.

    `echo`: the caller's own input, which a re-rendered form may show back to them (escaped).
    """
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    text = AUDIO_URL.sub("", response.get_data(as_text=True))
    if echo:
        text = text.replace(str(escape(echo)), "")
    assert not SECRET_WORDS.search(text), text[:500]
    assert not clip_words(manifest_path).search(text), text[:500]
    return response.get_json(silent=True) or text


def rows(url: str, query: sa.Executable) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    finally:
        engine.dispose()


def count(url: str, model) -> int:  # noqa: ANN001
    return rows(url, sa.select(sa.func.count()).select_from(model))[0][0]


# ------------------------------------------------------------------------------------------------ answers


def test_an_old_answer_replayed_later_changes_nothing(participant, study, manifest_path):
    p = participant()
    p.ready()
    p.present()
    assert p.answer("A", "p1", answer_id="replayed-0001").status_code == 200
    p.present("p2")
    assert p.answer("B", "p2", answer_id="replayed-0002").status_code == 200
    again = p.answer("B", "p1", answer_id="replayed-0001")  # an attacker replays the first answer, flipped
    assert again.status_code == 200 and again.get_json()["repeated"] and again.get_json()["answer"] == "A"
    assert again.get_json()["state"]["trial"]["id"] == "p3"  # the session did not move back
    stored = rows(study.url, sa.select(Presentation.order_index, Presentation.answer)
                  .where(Presentation.answer.is_not(None)).order_by(Presentation.order_index))
    assert stored == [(1, "A"), (2, "B")]


def test_forged_fields_in_an_answer_are_ignored_and_scored_trials_reveal_nothing(participant, study):
    p = participant()
    p.ready()
    for _ in range(4):
        p.do_trial("A")
    p.listen(p.present("t1"), "t1")
    (truth,) = rows(study.url, sa.select(Presentation.correct_side).where(
        Presentation.practice.is_(False), Presentation.order_index == 1))[0]
    wrong = "B" if truth == "A" else "A"
    response = p.api("POST", "answer", {"trial": "t1", "answer": wrong, "id": uuid.uuid4().hex, "correct": True,
                                        "correct_side": wrong, "rt_ms": 1, "session": 1, "presented_utc": "2000"})
    assert response.status_code == 200
    body = json.dumps(response.get_json())
    assert "correct" not in body and "feedback" not in body  # a scored trial's reply says nothing about it
    (stored,) = rows(study.url, sa.select(Presentation.correct).where(
        Presentation.practice.is_(False), Presentation.order_index == 1))
    assert stored == (False,)


def test_another_sessions_csrf_token_is_refused(participant, study, manifest_path):
    alice, bob = participant(), participant()
    alice.ready()
    bob.ready()
    bob.csrf, own = alice.csrf, bob.csrf
    for name, body in (("present", {"trial": "p1"}), ("events", {"events": [{"kind": "play"}]})):
        assert refused(bob.api("POST", name, body), manifest_path, 400)["error"] == "csrf"
    bob.csrf = own
    assert bob.api("POST", "present", {"trial": "p1"}).status_code == 200


def test_a_session_cannot_act_in_another_study(participant, study, manifest_path):
    other = create_experiment(study.url, manifest_path, seed=2)
    p = participant()
    p.ready()
    for method, name, body in (("GET", "state", None), ("POST", "present", {"trial": "p1"}),
                               ("POST", "answer", {"trial": "p1", "answer": "A", "id": "abcdefgh12"})):
        p.eid, mine = other, p.eid
        refused(p.api(method, name, body), manifest_path, 401)
        p.eid = mine
    assert count(study.url, ParticipantSession) == 1


def test_forms_out_of_order_are_409_and_change_nothing(participant, study, manifest_path):
    p = participant()
    p.ready()  # now in the task
    before = rows(study.url, sa.select(ParticipantSession.stage, ParticipantSession.headphone_score))
    for path, data in (("headphones", {"volume": "0.1", **{f"t{k}": "1" for k in range(1, 7)}}),
                       ("instructions", {}), ("questionnaire", {"age": "25-34"})):
        refused(p.post(path, data), manifest_path, 409)
    for path in ("questionnaire", "debrief", "headphones"):
        response = p.page(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/task")
    assert rows(study.url, sa.select(ParticipantSession.stage, ParticipantSession.headphone_score)) == before
    assert count(study.url, Questionnaire) == 0


# ------------------------------------------------------------------------------------------------ malformed input


MALFORMED = [  # broken for every endpoint
    "[" * 50_000,  # deeper than the JSON parser's recursion limit, yet under the 64 KB limit
    '{"x": ' + "[" * 5_000 + "]" * 5_000 + "}",
    b'{"trial": "\xff\xfe", "events": "\xff"}',  # not UTF-8
    '"just a string"', "null", "", "[]", "{}", "{'trial': 'p1'}",
]
MALFORMED_FIELDS = {  # broken for one endpoint's own fields
    "answer": ['{"trial": "p1", "answer": "A", "id": NaN}', '{"trial": "p1", "answer": "A", "id": 1e999}',
               '{"trial": "p1", "answer": "A", "id": ' + "9" * 5_000 + "}",
               '{"trial": "p1", "trial": ["t1"], "answer": "A", "id": "abcdefgh1"}',
               '{"trial": "p\u0661", "answer": "A", "id": "abcdefgh1"}',  # an Arabic-Indic digit
               '{"trial": "p1", "answer": "a", "id": "abcdefgh1"}',
               '{"trial": "p1", "answer": "A", "id": "' + "a" * 65 + '"}'],
    "present": ['{"trial": NaN}', '{"trial": Infinity}', '{"trial": "p1", "trial": ["p1"]}', '{"trial": "p\u0661"}',
                '{"trial": "p1 "}', '{"trial": "P1"}', '{"trial": "p0001"}'],
    "events": ['{"events": NaN}', '{"events": [{"kind": "play", "t": Infinity}]}',
               '{"events": [{"kind": "play", "t": -Infinity}]}', '{"events": [{"kind": "play", "t": true}]}',
               '{"events": [{"kind": "play", "t": ' + "9" * 5_000 + "}]}", '{"events": {"kind": "play"}}',
               '{"events": [{"kind": "play", "detail": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}]}"],
}


@pytest.mark.parametrize("name", ["answer", "present", "events"])
def test_malformed_json_is_a_4xx(participant, manifest_path, name):
    p = participant()
    p.ready()
    for body in MALFORMED + MALFORMED_FIELDS[name]:
        response = p.client.post(f"/api/study/{p.eid}/{name}", data=body, content_type="application/json",
                                 headers={"X-CSRFToken": p.csrf})
        refused(response, manifest_path)
    response = p.client.post(f"/api/study/{p.eid}/{name}", data='{"trial": "p1"}', content_type="text/plain",
                             headers={"X-CSRFToken": p.csrf})
    refused(response, manifest_path, 400)


@pytest.mark.parametrize("path", ["consent", "headphones", "instructions", "questionnaire"])
def test_oversized_form_posts_are_413(participant, manifest_path, path):
    p = participant()
    p.start()
    response = p.client.post(f"/study/{p.eid}/{path}", data={"csrf_token": p.csrf, "x": "y" * 70_000})
    refused(response, manifest_path, 413)


@pytest.mark.parametrize("name", ["answer", "present", "events"])
def test_oversized_api_posts_are_413(participant, manifest_path, name):
    p = participant()
    p.ready()
    refused(p.api("POST", name, {"trial": "p1", "pad": "y" * 70_000}), manifest_path, 413)


# ------------------------------------------------------------------------------------------------ URLs


TRAVERSALS = [
    "..%2F..%2Fexperiment%2Fconfig.py",
    "%2e%2e%2f%2e%2e%2fexperiment%2fconfig.py",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "..%5C..%5Cexperiment%5Cconfig.py",
    "%00",
    "A" * 31 + "%00",
    "A" * 2000,
    "~root",
    "%252e%252e%252fexperiment",
]


def test_audio_traversal_and_guessing_are_404(participant, manifest_path):
    p = participant()
    p.ready()
    state = p.present()
    real = state["trial"]["audio"]["a"]
    prefix = real.rsplit("/", 1)[0]
    for token in TRAVERSALS:
        refused(p.client.get(f"{prefix}/{token}"), manifest_path, 404, 400)
    guessed = set()
    for _ in range(300):  # well-formed guesses: 32 url-safe base64 characters, like the real ones
        guess = secrets.token_urlsafe(24)[:32]
        response = refused(p.client.get(f"{prefix}/{guess}"), manifest_path, 404)
        guessed.add(json.dumps(response, sort_keys=True))
    swapped = real[:-32] + real[-32:].swapcase()  # a near miss answers exactly like a far one
    guessed.add(json.dumps(refused(p.client.get(swapped), manifest_path, 404), sort_keys=True))
    assert len(guessed) == 1
    assert p.client.get(real).status_code == 200  # and the real one still works


@pytest.mark.parametrize("path", [
    "/static/../experiment/config.py",
    "/static/%2e%2e/experiment/config.py",
    "/static/..%2fexperiment%2fconfig.py",
    "/static/css/../../experiment/config.py",
    "/static/..%5cexperiment%5cconfig.py",
    "/static//etc/passwd",
])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_static_traversal_is_refused(app, manifest_path, path):
    response = app.test_client().get(path, follow_redirects=True)
    assert response.status_code in (400, 404), (path, response.status_code)
    assert b"SECRET_KEY" not in response.data and b"root:" not in response.data


# ------------------------------------------------------------------------------------------------ injection


def test_sql_injection_strings_in_every_participant_field(participant, study, manifest_path):
    before = {m.__tablename__: count(study.url, m) for m in (Experiment, AdminUser)}
    for k, attack in enumerate(INJECTIONS):
        p = participant()
        query = "&".join(f"{name}={attack}" for name in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"))
        assert p.page(f"?{query}").status_code == 200
        p.page("consent")
        response = p.post("consent", {"read_info": attack, "voluntary": attack, "data_use": attack, "agree": attack})
        assert response.status_code == 302, response.status_code  # ticked is ticked, whatever the value
        p.page("headphones")
        refused(p.post("headphones", {"volume": attack, **{f"t{i}": "1" for i in range(1, 7)}}), manifest_path, 400)
        refused(p.post("headphones", {"volume": "0.5", **{f"t{i}": attack for i in range(1, 7)}}), manifest_path, 400)
        assert p.headphones().status_code == 302
        assert p.instructions().status_code == 302
        p.page("task")
        for body in ({"trial": attack, "answer": "A", "id": "abcdefgh12"}, {"trial": "p1", "answer": attack,
                                                                            "id": "abcdefgh12"},
                     {"trial": "p1", "answer": "A", "id": attack}, {"trial": attack}):
            refused(p.api("POST", "answer" if "answer" in body else "present", body), manifest_path)
        for event in ({"kind": attack}, {"kind": "play", "slot": attack}, {"kind": "play", "trial": attack},
                      {"kind": "play", "t": attack}):
            refused(p.api("POST", "events", {"events": [event]}), manifest_path, 400)
        logged = p.api("POST", "events", {"events": [{"kind": "play", "slot": "x", "detail": {"note": attack}}]})
        assert logged.status_code == 200
        refused(p.client.get(f"/api/study/{p.eid}/audio/{attack}"), manifest_path, 404, 400)
        if k == 0:  # the questionnaire once: select fields refuse, free text is kept verbatim
            p.finish_trials()
            p.page("questionnaire")
            refused(p.post("questionnaire", {"age": attack, "hearing": attack}), manifest_path, 400)
            text = "\n".join(INJECTIONS)
            assert p.post("questionnaire", {"strategy": text, "problems": text}).status_code == 302
            (answers,) = rows(study.url, sa.select(Questionnaire.answers))[0]
            assert answers["strategy"] == answers["problems"] == text
    pids = rows(study.url, sa.select(ParticipantSession.prolific_pid, ParticipantSession.prolific_study_id))
    assert pids == [(None, None)] * len(INJECTIONS)  # the ids were not Prolific-shaped: dropped
    details = rows(study.url, sa.select(Event.detail).where(Event.kind == "play"))
    notes = [d["note"] for (d,) in details if d and "note" in d]
    assert sorted(notes) == sorted(INJECTIONS)  # stored as data, verbatim
    assert {m.__tablename__: count(study.url, m) for m in (Experiment, AdminUser)} == before
    assert count(study.url, Presentation) == 28 * len(INJECTIONS)


def test_sql_injection_strings_in_the_url(app, study, manifest_path):
    client = app.test_client()
    for attack in ("1 OR 1=1", "1'", "1;DROP TABLE session", "-1", "0x1", "1e3", "99999999999999999999"):
        for path in (f"/study/{attack}/", f"/api/study/{attack}/state", f"/admin/studies/{attack}"):
            response = client.get(path)
            assert response.status_code in (302, 401, 404), (path, response.status_code)  # 302: admin login first
    assert count(study.url, ParticipantSession) == 0


def test_sql_injection_strings_at_the_admin_login(study, clock, tmp_path, manifest_path):
    add_admin(study.url)
    app = admin_app(study.url, clock, tmp_path)
    try:
        for k, attack in enumerate(INJECTIONS):
            client = AdminClient(app, REMOTE_ADDR=f"10.9.0.{k}")
            # 400: PostgreSQL cannot hold a NUL character in text, and says so (not a 503 "try again")
            refused(client.post("/admin/login", {"username": attack, "password": attack}), manifest_path, 400, 401,
                    echo=attack)
            refused(client.post("/admin/login", {"username": "alice", "password": attack}), manifest_path, 401)
            assert client.get("/admin/").status_code == 302  # still anonymous
        assert count(study.url, AdminUser) == 1
    finally:
        engine_of(app).dispose()


def test_a_nul_character_in_a_stored_header_is_a_4xx(participant, study, manifest_path):
    p = participant()
    p.page("")
    p.page("consent")
    response = p.client.post(f"/study/{p.eid}/consent", headers={"User-Agent": "evil\x00agent"}, data={
        "read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree", "csrf_token": p.csrf})
    assert response.status_code in (302, 400), response.status_code  # SQLite stores it; PostgreSQL refuses it
    assert count(study.url, ParticipantSession) == (1 if response.status_code == 302 else 0)


# ------------------------------------------------------------------------------------------------ CSRF


def test_every_participant_post_without_csrf_is_refused(participant, study, manifest_path):
    p = participant()
    p.start()
    refused(p.post("headphones", {"volume": "0.5", **{f"t{k}": "1" for k in range(1, 7)}}, csrf=False),
            manifest_path, 400)
    assert p.headphones().status_code == 302
    refused(p.post("instructions", {}, csrf=False), manifest_path, 400)
    assert p.instructions().status_code == 302
    p.page("task")
    for name, body in (("present", {"trial": "p1"}), ("events", {"events": [{"kind": "play"}]})):
        assert refused(p.api("POST", name, body, csrf=False), manifest_path, 400)["error"] == "csrf"
    p.finish_trials()
    p.page("questionnaire")
    refused(p.post("questionnaire", {"age": "25-34"}, csrf=False), manifest_path, 400)
    assert count(study.url, Questionnaire) == 0
    stage = rows(study.url, sa.select(ParticipantSession.stage))
    assert stage == [("questionnaire",)]


# ------------------------------------------------------------------------------------------------ admin passwords


def test_a_thousand_wrong_admin_passwords(study, clock, tmp_path, manifest_path):
    """All refused (401, then 429 with Retry-After), none logs in, the log stays bounded, no account named."""
    add_admin(study.url)
    app = admin_app(study.url, clock, tmp_path)
    try:
        attacker = AdminClient(app, REMOTE_ADDR="10.1.1.1")
        statuses = []
        for k in range(1000):
            response = attacker.post("/admin/login", {"username": "alice", "password": f"guess-{k:04d}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) > 0
            if k % 250 == 0:
                refused(response, manifest_path, 401, 429)
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        right = attacker.post("/admin/login", {"username": "alice", "password": PASSWORD})
        assert right.status_code == 429  # the right password now looks exactly like a wrong one
        assert attacker.get("/admin/").status_code == 302
        failures = rows(study.url, sa.select(sa.func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "login_failed"))[0][0]
        assert failures == 5  # refused attempts write nothing: a flood cannot grow the log

        sprayer = AdminClient(app, REMOTE_ADDR="10.1.1.2")
        sprayed = [sprayer.post("/admin/login", {"username": f"user{k}", "password": "x"}).status_code
                   for k in range(100)]
        assert set(sprayed[:30]) == {401} and set(sprayed[30:]) == {429}

        elsewhere = AdminClient(app, REMOTE_ADDR="10.1.1.3")  # the real admin, from her own address
        known = elsewhere.post("/admin/login", {"username": "alice", "password": "wrong once"})
        unknown = elsewhere.post("/admin/login", {"username": "nobody", "password": "wrong once"})
        assert known.status_code == unknown.status_code == 401
        message = re.compile(r'role="alert">([^<]*)<')
        assert message.search(known.get_data(as_text=True)).group(1) == message.search(
            unknown.get_data(as_text=True)).group(1)  # nothing says which usernames exist
        assert elsewhere.post("/admin/login", {"username": "alice", "password": PASSWORD}).status_code == 302
    finally:
        engine_of(app).dispose()


# ------------------------------------------------------------------------------------------------ headers


def _headers_ok(response, where: str) -> None:  # noqa: ANN001
    h = response.headers
    assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_security_headers_on_every_kind_of_response(participant, app, study, clock, manifest_path):
    seen = []

    def check(response, where: str):  # noqa: ANN001, ANN202
        _headers_ok(response, where)
        assert response.status_code < 500, where
        seen.append(response.status_code)
        return response

    p = participant()
    for path in ("", "consent"):
        check(p.page(path), path)
    check(p.post("consent", {"agree": "agree"}, csrf=False), "consent without csrf")
    check(p.start(), "consent post")
    page = check(p.page("headphones"), "headphones").get_data(as_text=True)
    hp = re.search(r'data-play="hp1" data-url="([^"]+)"', page).group(1)
    check(p.client.get(hp), "headphone sound")
    check(p.headphones(), "headphones post")
    check(p.page("instructions"), "instructions")
    check(p.instructions(), "instructions post")
    check(p.page("task"), "task")
    check(p.api("GET", "state"), "state")
    state = check(p.api("POST", "present", {"trial": "p1"}), "present").get_json()
    url = state["trial"]["audio"]["x"]
    check(p.client.get(url), "audio")
    check(p.client.get(url, headers={"Range": "bytes=0-9"}), "audio 206")
    check(p.client.get(url, headers={"Range": "bytes=999999999-"}), "audio 416")
    check(p.api("POST", "events", {"events": [{"kind": "play", "slot": "x"}]}), "events")
    check(p.api("POST", "answer", {"trial": "p1", "answer": "A", "id": "headers-0001"}), "answer")
    check(p.api("POST", "answer", {"trial": "p3", "answer": "A", "id": "headers-0002"}), "409")
    check(p.api("POST", "answer", {"trial": "p1"}, csrf=False), "csrf 400")
    check(p.client.get(f"/api/study/{p.eid}/answer"), "405")
    check(p.api("POST", "events", {"pad": "y" * 70_000}), "413")
    check(p.client.get("/static/css/style.css"), "static")
    check(p.client.get("/static/nope.css"), "static 404")
    check(p.client.get("/nope"), "404 page")
    p.finish_trials()
    check(p.page("questionnaire"), "questionnaire")
    check(p.post("questionnaire", {"age": "25-34"}), "questionnaire post")
    check(p.page("debrief"), "debrief")
    declined = participant()
    declined.page("consent")
    check(declined.post("consent", {"decline": "decline"}), "declined")

    add_admin(study.url)
    admin = AdminClient(app)
    check(admin.get("/admin/"), "admin redirect")
    check(admin.get("/admin/login"), "admin login")
    check(admin.post("/admin/login", {"username": "alice", "password": "wrong"}), "admin 401")
    check(admin.login(), "admin login post")
    (sid,) = rows(study.url, sa.select(ParticipantSession.id).where(ParticipantSession.stage == "done"))[0]
    for path in ("/admin/", f"/admin/studies/{study.experiment_id}", f"/admin/studies/{study.experiment_id}/"
                 f"participants/{sid}", "/admin/audit", f"/admin/api/studies/{study.experiment_id}/progress",
                 f"/admin/studies/{study.experiment_id}/export/trials.csv", f"/admin/studies/{study.experiment_id}/"
                 "export.csv.zip", "/admin/studies/424242", "/admin/api/studies/424242/progress"):
        check(admin.get(path), path)
    assert {200, 206, 302, 400, 404, 405, 409, 413, 416} <= set(seen)
