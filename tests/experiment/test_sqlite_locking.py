"""Defect 8 of issue 14: on SQLite a request holds the database's write lock only while it writes rows.

An admin poll computing its payload, and an audio request reading its file, are each held mid-way while
another participant answers: the answer must be recorded at once, not after the slow request lets go.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import experiment.admin.studies as admin_module
from admin_support import AdminClient, lite, lite_app, study_template  # noqa: F401 - fixtures
from experiment_client import Participant

HOLD_S = 4.0


def _answer_while_held(app, experiment_id: int, slow_request, install_hold) -> float:
    """Hold `slow_request` inside its slow part, answer a trial meanwhile; return how long the answer took."""
    answerer = Participant(app, experiment_id)
    answerer.ready()
    answerer.present()
    held, release = threading.Event(), threading.Event()
    install_hold(held, release)
    slow = threading.Thread(target=slow_request)
    slow.start()
    try:
        assert held.wait(20), "the slow request never reached its slow part"
        t0 = time.perf_counter()
        response = answerer.answer("A", "p1")
        took = time.perf_counter() - t0
        assert response.status_code == 200, response.get_json()
    finally:
        release.set()
        slow.join(30)
    return took


@pytest.mark.timeout(120)
def test_an_admin_poll_does_not_hold_up_answers(lite, lite_app, monkeypatch):
    admin = AdminClient(lite_app)
    assert admin.login().status_code == 302
    real = admin_module.progress_payload

    def install(held, release):  # noqa: ANN001, ANN202
        def slow_payload(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            payload = real(*args, **kwargs)
            held.set()
            release.wait(HOLD_S)
            return payload
        monkeypatch.setattr(admin_module, "progress_payload", slow_payload)

    def poll() -> None:
        assert admin.get(f"/admin/api/studies/{lite.experiment_id}/progress").status_code == 200

    assert _answer_while_held(lite_app, lite.experiment_id, poll, install) < HOLD_S / 2


@pytest.mark.timeout(120)
def test_an_audio_download_does_not_hold_up_answers(lite, lite_app, monkeypatch):
    listener = Participant(lite_app, lite.experiment_id)
    listener.ready()
    urls = listener.present()["trial"]["audio"]
    real = Path.read_bytes

    def install(held, release):  # noqa: ANN001, ANN202
        def slow_read(self):  # noqa: ANN001, ANN202
            data = real(self)
            if self.suffix == ".wav" and threading.current_thread().name == "audio":
                held.set()
                release.wait(HOLD_S)
            return data
        monkeypatch.setattr(Path, "read_bytes", slow_read)

    def download() -> None:
        assert listener.client.get(urls["x"]).status_code == 200

    def run() -> None:
        threading.current_thread().name = "audio"
        download()

    assert _answer_while_held(lite_app, lite.experiment_id, run, install) < HOLD_S / 2
