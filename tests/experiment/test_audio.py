"""Audio URLs: opaque, per session, Range-capable, and indistinguishable by anything but their sound."""

from __future__ import annotations

import json
import re

import pytest

from experiment.manifest import load_manifest

HEADERS_THAT_MAY_DIFFER = {"Content-Range"}


@pytest.fixture
def on_trial(participant):
    p = participant()
    p.ready()
    return p, p.present()


def test_urls_are_opaque_tokens(on_trial, manifest_path):
    p, state = on_trial
    manifest = load_manifest(manifest_path, check_files=False)
    secret_words = {c.id for c in manifest.clips} | {c.song for c in manifest.clips} | {"correct", "match", "foil"}
    for url in state["trial"]["audio"].values():
        token = url.rsplit("/", 1)[1]
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
        assert not any(word in url for word in secret_words)
    assert len(set(state["trial"]["audio"].values())) == 3


def test_three_clips_have_identical_headers_and_size(on_trial):
    p, state = on_trial
    responses = [p.client.get(state["trial"]["audio"][s]) for s in ("x", "a", "b")]
    assert {r.status_code for r in responses} == {200}
    headers = [dict(r.headers) for r in responses]
    assert headers[0] == headers[1] == headers[2]
    assert len({len(r.data) for r in responses}) == 1
    h = headers[0]
    assert h["Content-Type"] == "audio/wav" and h["Accept-Ranges"] == "bytes" and h["Cache-Control"] == "no-store"
    assert not {"ETag", "Last-Modified", "Content-Disposition", "Set-Cookie"} & set(h)
    assert len({r.data for r in responses}) == 3  # three different sounds


@pytest.mark.parametrize(
    ("range_header", "status", "span"),
    [
        ("bytes=0-99", 206, (0, 99)),
        ("bytes=100-", 206, (100, None)),
        ("bytes=-50", 206, (-50, None)),
        ("bytes=0-999999999", 206, (0, None)),
        ("bytes=0-1,5-9", 200, None),  # multi-range: the whole body is a valid answer
        ("items=0-9", 200, None),
        ("bytes=999999999-", 416, None),
    ],
)
def test_range_requests(on_trial, range_header, status, span):
    p, state = on_trial
    url = state["trial"]["audio"]["a"]
    whole = p.client.get(url).data
    response = p.client.get(url, headers={"Range": range_header})
    assert response.status_code == status
    if status == 206:
        start, end = span
        expected = whole[start:] if end is None else whole[start:end + 1]
        assert response.data == expected
        first = len(whole) + start if start < 0 else start
        assert response.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(whole)}"
        assert response.headers["Content-Length"] == str(len(expected))
    elif status == 416:
        assert response.headers["Content-Range"] == f"bytes */{len(whole)}"
        assert response.get_json()["error"] == "range_not_satisfiable"
    else:
        assert response.data == whole


def test_ranged_headers_identical_across_slots(on_trial):
    p, state = on_trial
    heads = [dict(p.client.get(state["trial"]["audio"][s], headers={"Range": "bytes=0-1023"}).headers)
             for s in ("x", "a", "b")]
    assert heads[0] == heads[1] == heads[2]


def test_tokens_belong_to_one_session_and_the_current_trial(participant, on_trial):
    p, state = on_trial
    other = participant()
    other.ready()
    other.present()
    for url in state["trial"]["audio"].values():
        assert other.client.get(url).status_code == 404
    forged = state["trial"]["audio"]["x"][:-4] + "AAAA"
    assert p.client.get(forged).status_code == 404
    old = state["trial"]["audio"]
    p.answer("A", "p1")
    for url in old.values():  # an answered trial's sounds are gone
        assert p.client.get(url).status_code == 404


def test_no_audio_before_the_trial_starts(participant):
    p = participant()
    p.ready()
    assert p.state()["trial"]["audio"] is None


def test_pages_and_state_leak_nothing(on_trial, manifest_path):
    p, state = on_trial
    manifest = load_manifest(manifest_path, check_files=False)
    ids = {c.id for c in manifest.clips}
    songs = {c.song for c in manifest.clips}
    participants = {c.eeg_participant for c in manifest.clips if c.eeg_participant}
    page = p.page("task").get_data(as_text=True)
    # the page's string table (practice feedback words and all) is the same for every participant and trial
    table = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page, re.S)
    assert table is not None and "song" not in table.group(1).lower()
    texts = [page.replace(table.group(0), ""), json.dumps(state), json.dumps(p.state())]
    for text in texts:
        words = set(re.findall(r"[A-Za-z0-9_]+", text))
        assert not words & (ids | songs | participants), words & (ids | songs | participants)
        assert "correct" not in text.lower().replace("correct_side", "")
        assert "song" not in text.lower()


def test_headphone_sounds_have_identical_size_and_headers(participant):
    p = participant()
    p.start()
    page = p.page("headphones").get_data(as_text=True)
    urls = re.findall(r'data-play="hp\d" data-url="([^"]+)"', page)
    assert len(urls) == 6
    responses = [p.client.get(url) for url in urls]
    assert {r.status_code for r in responses} == {200}
    assert len({len(r.data) for r in responses}) == 1
    assert len({tuple(sorted(r.headers.items())) for r in responses}) == 1
    p.headphones()
    assert p.client.get(urls[0]).status_code == 404  # the check is over


def test_a_clip_changed_on_disk_after_creation_is_never_served(tmp_path, clock):
    """Defect 6 of issue 14: the served bytes are exactly those verified when the study was created."""
    from experiment.study import create_experiment
    from experiment.webdb import engine_of
    from experiment_client import Participant, Study, make_app
    from experiment_factory import make_manifest

    manifest = make_manifest(tmp_path / "clips")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    study = Study(url, create_experiment(url, manifest, seed=1))
    app = make_app(study, clock, tmp_path)
    try:
        p = Participant(app, study.experiment_id)
        p.ready()
        urls = p.present()["trial"]["audio"]
        for wav in (tmp_path / "clips" / "audio").glob("*.wav"):  # swapped behind the server's back
            data = wav.read_bytes()
            wav.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        response = p.client.get(urls["x"])
        assert response.status_code == 503 and response.get_json()["error"] == "clip_unavailable"
        assert not response.get_data().startswith(b"RIFF")
    finally:
        engine_of(app).dispose()
