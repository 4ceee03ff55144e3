"""The closed vocabularies of the study: experiment states, session statuses and stages, event kinds."""

from __future__ import annotations

import enum


class ExperimentState(str, enum.Enum):
    """Recruitment state of a study: only an open study assigns new participants."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class FoilPolicy(str, enum.Enum):
    """Where a trial's foil comes from: another song (the paper's reading: song identity), the same song at
    another time (time-specific: only decoding in time wins), or half of each for every listener (mixed)."""

    MIXED = "mixed"
    DIFFERENT_SONG = "different-song"
    SAME_SONG = "same-song"


DEFAULT_FOIL_POLICY = FoilPolicy.MIXED
"""New studies get both kinds of trial, so one study shows identity and time side by side (issue 25)."""

FOIL_KINDS = (FoilPolicy.DIFFERENT_SONG.value, FoilPolicy.SAME_SONG.value)
"""The two kinds of trial a design can hold; a mixed study holds both."""


class SessionStatus(str, enum.Enum):
    """Lifecycle of a participant session (withdrawal is a separate flag, so the status is kept)."""

    ACTIVE = "active"
    COMPLETED = "completed"
    TIMED_OUT = "timed_out"
    ABANDONED = "abandoned"
    SCREENED_OUT = "screened_out"  # failed the headphone check: ended, paid the screen-out code, never a quota place


class Stage(str, enum.Enum):
    """Where a session is in the participant flow; each page accepts only its own stage."""

    HEADPHONE = "headphone"
    INSTRUCTIONS = "instructions"
    TASK = "task"
    QUESTIONNAIRE = "questionnaire"
    DONE = "done"


class Side(str, enum.Enum):
    """An AB-X answer or correct side."""

    A = "A"
    B = "B"


EVENT_KINDS = frozenset(
    {
        "play",  # a slot (x, a, b) started playing
        "replay",  # a slot started playing again in the same trial
        "ended",  # a slot played to its end
        "playback",  # one play's record: context state, start/end on the audio clock, latency, ended or cut (why)
        "stop",  # playback interrupted by another play
        "hidden",  # tab hidden
        "visible",  # tab shown again
        "ready",  # all three clips decoded, answers enabled
        "unlock",  # audio context unlocked by a gesture
        "audio_error",  # a clip failed to load or decode
        "retry",  # an answer was re-sent after a network failure
        "reload",  # the task page was (re)loaded
        "volume",  # the volume setting changed
    }
)
"""Event kinds the page may log; server-side kinds (consent, assigned, answer, timeout…) are added by the server."""

SERVER_EVENT_KINDS = frozenset(
    {"consent", "assigned", "headphone", "headphone_retry", "screened_out", "instructions_done", "audio_fetch", "presented", "answer", "timeout", "session_timeout",
     "completed", "questionnaire", "withdrawn", "consent_refused", "second_device"}
)
"""Event kinds only the server writes."""
