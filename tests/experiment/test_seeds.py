"""Defect 5 of issue 14: every session seed is an HMAC of the server secret and the session, one per purpose.

The headphone sounds reach the browser; their seed must tell nothing about the trial order and sides, and no
seed may be small enough to brute-force from the audio.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from experiment.design import draw_session
from experiment.headphone import calibration_noise
from experiment.models import ParticipantSession, Version
from experiment.assignment import derive_seed
from experiment.session_rows import presentations
from experiment.study import version_design
from experiment.webdb import get_db
from experiment_client import SECRET


def _row(app, token: str) -> ParticipantSession:
    with app.app_context():
        return get_db().query(ParticipantSession).filter_by(token=token).one()


def test_seeds_are_hmacs_of_the_secret_and_the_session(participant, app):
    p = participant()
    p.start()
    s = _row(app, p.token)
    for purpose, stored in (("order", s.seed), ("headphone", s.headphone_seed)):
        digest = hmac.new(SECRET.encode(), f"tuneback-seed|{purpose}|{s.token}".encode(), hashlib.sha256).digest()
        assert stored == derive_seed(SECRET, purpose, s.token) == int.from_bytes(digest[:8], "big") >> 1
    assert s.seed != s.headphone_seed


def test_seeds_are_not_brute_forceable(participant, app):
    seeds = []
    for _ in range(6):
        p = participant()
        p.start()
        s = _row(app, p.token)
        seeds += [s.seed, s.headphone_seed]
    assert len(set(seeds)) == len(seeds)
    assert max(seeds) >= 2**40  # 63-bit values, not the old 31-bit ones
    assert all(0 <= x < 2**63 for x in seeds)  # and they fit a signed BIGINT


def test_the_headphone_sound_comes_from_its_own_seed_and_the_order_from_the_other(participant, app):
    p = participant()
    p.start()
    page = p.page("headphones").get_data(as_text=True)
    s = _row(app, p.token)


    cal = re.search(r'/api/study/\d+/audio/[A-Za-z0-9_-]+', page).group(0)  # the first URL is the calibration noise
    served = p.client.get(cal).get_data()
    assert served == calibration_noise(s.headphone_seed) != calibration_noise(s.seed)
    with app.app_context():
        db = get_db()
        s = db.merge(s)
        plan = [(x.practice, x.order_index, x.correct_side, x.template.item) for x in presentations(db, s)]
        drawn = draw_session(version_design(db, db.get(Version, s.version_id)), s.seed)
    assert plan == [(t.practice, t.order_index, t.correct_side, t.item) for t in drawn]
