"""Participant pages in the study's language (Flask-Babel): the locale comes from the study's `language` setting.

Catalogues live in `translations/<code>/LC_MESSAGES/messages.po`, with the compiled `.mo` committed beside them
(`scripts/i18n.sh` extracts, updates and compiles; a test checks every .mo matches its .po). The page scripts get
their strings from `js_strings()`, rendered into the page as JSON, so the JavaScript needs no gettext of its own.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_locale, gettext, ngettext
from sqlalchemy.exc import SQLAlchemyError

from experiment.settings import StudySettings
from experiment.texts import DEFAULT_LANGUAGE, LANGUAGES

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
PARTICIPANT_BLUEPRINTS = frozenset({"participant", "api"})
"""Blueprints whose pages and messages a participant reads (in the study's language)."""


def init_app(app: Flask) -> None:
    """Install Flask-Babel with the study-language selector and the translated time helpers."""
    Babel(app, locale_selector=study_locale, default_translation_directories=str(TRANSLATIONS),
          default_locale=DEFAULT_LANGUAGE)
    app.jinja_env.globals.update(duration_text=duration_text, seconds_text=seconds_text, js_strings=js_strings,
                                 page_language=page_language)


def page_language() -> str:
    """The language code of the page being rendered (the <html lang> attribute)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def study_locale() -> str:
    """The language of the study a participant request belongs to (its URL's experiment id), else English (the
    admin panel is English whatever the study's language)."""
    from experiment.current import MAX_ID
    from experiment.models import Experiment
    from experiment.webdb import get_db

    if not request or request.blueprint not in PARTICIPANT_BLUEPRINTS:
        return DEFAULT_LANGUAGE
    experiment_id = (request.view_args or {}).get("experiment_id")
    if not isinstance(experiment_id, int) or not 0 < experiment_id <= MAX_ID:
        return DEFAULT_LANGUAGE
    try:
        db = get_db()
        if not db.is_active:  # an error page after a failed write: its transaction is gone
            return DEFAULT_LANGUAGE
        experiment = db.get(Experiment, experiment_id)
    except SQLAlchemyError:
        return DEFAULT_LANGUAGE
    language = StudySettings.of(experiment).language if experiment is not None else None
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def duration_text(seconds: float) -> str:
    """'30 minutes', '1 minute', '45 seconds' in the page's language: how a page says a time limit."""
    seconds = float(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    whole = round(seconds)
    return ngettext("%(num)d second", "%(num)d seconds", whole)


def seconds_text(seconds: float) -> str:
    """A clip length as an adjective, '5-second' ('5-sekündige'), in the page's language."""
    return gettext("%(seconds)s-second", seconds=format(seconds, "g"))


def js_strings() -> dict[str, str]:
    """Every string static/js shows a participant, translated ({n}, {total}, {side} are filled in by the script)."""
    return {
        "retrying": gettext("Connection problem — retrying…"),
        "practice_of": gettext("Practice {n} of {total}"),
        "trial_of": gettext("Trial {n} of {total}"),
        "seconds_left": gettext("{n} s"),
        "time_up": gettext("Time is up for this trial."),
        "went_wrong": gettext("Something went wrong; please reload the page."),
        "loading_sounds": gettext("Loading the sounds…"),
        "load_failed": gettext("The sounds could not be loaded. Check your connection and reload the page."),
        "correct": gettext("Correct!"),
        "not_quite": gettext("Not quite — the match was {side}."),
        "not_saved": gettext("Your answer could not be saved; please reload the page."),
        "not_listened": gettext("Please play X, A and B before answering."),
        "loading": gettext("Loading…"),
        "play_failed": gettext("The sound could not be played. Check your connection and try again."),
        "play_all_first": gettext("Play X, A and B first (keys X, 1 and 2); then A or B answers."),
        "saved": gettext("Answer saved. Next trial."),
        "saved_n": gettext("Answer saved ({n} of {total} done). Next trial."),
    }
