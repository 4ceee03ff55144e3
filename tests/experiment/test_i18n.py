"""Participant pages in the study's language (issue 15): complete catalogues, compiled .mo in step with the .po,
and a German study whose pages carry no English participant string; the consent page quotes the study's text."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from experiment.i18n import TRANSLATIONS
from experiment.study import create_experiment
from experiment.texts import LANGUAGES
from experiment.webdb import engine_of
from experiment_client import Participant, Study, make_app

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\([a-z]+\)[sd]|\{[a-z]+\}|<[^>]+>|&amp;|%%")


def _catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def _source_ids() -> set[str]:
    """Every participant string in the code, extracted as scripts/i18n.sh does (babel.cfg)."""
    method_map, options_map = [], {}
    for section in re.findall(r"^\[(\w+): ([^\]]+)\]", (ROOT / "babel.cfg").read_text(), re.M):
        method_map.append((section[1].strip(), section[0]))
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2),
                                                         "_l": None}):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_catalogue_is_complete_and_compiled(language):
    catalog = _catalog(language)
    have = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    missing = _source_ids() - set(have)
    assert not missing, f"{language}: run scripts/i18n.sh and translate {sorted(missing)[:3]}"
    untranslated = [i for i, m in have.items() if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert not untranslated and not [m.id for m in catalog if m.id and m.fuzzy]
    for msgid, m in have.items():  # every placeholder survives translation
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in strings:
            assert sorted(re.findall(r"%\(\w+\)[sd]|\{\w+\}", text)) == sorted(
                re.findall(r"%\(\w+\)[sd]|\{\w+\}", msgid)), (language, msgid)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        on_disk = read_mo(handle)
    fresh = read_mo(io.BytesIO(compiled.getvalue()))
    def pairs(cat) -> dict:
        return {repr(tuple(m.id) if isinstance(m.id, list | tuple) else m.id): repr(m.string) for m in cat if m.id}

    assert pairs(on_disk) == pairs(fresh), \
        "the committed .mo is older than its .po: run scripts/i18n.sh compile"


def _english_fragments() -> list[str]:
    """Pieces of English participant strings that German pages must not contain (placeholders cut out)."""
    german = {m.id[0] if isinstance(m.id, tuple) else m.id: m.string for m in _catalog("de") if m.id}
    pieces = []
    for msgid, string in german.items():
        if msgid == (string[0] if isinstance(string, tuple) else string):
            continue  # the same in both languages ("Start", "{n} s")
        pieces += [p.strip() for p in PLACEHOLDER.split(msgid) if len(p.strip()) >= 12]
    return pieces


@pytest.fixture
def german(sqlite_url, manifest_path, clock, tmp_path):
    study = Study(sqlite_url, create_experiment(sqlite_url, manifest_path, seed=1, settings={
        "language": "de", "expected_minutes": 25, "consent_text": "Wir untersuchen Musik.\n\nZweiter Absatz <b>.",
        "researcher_contact": "Dr. Muster, muster@example.org", "ethics_reference": "EK-2026-17",
        "data_retention": "Zehn Jahre am Institut."}))
    app = make_app(study, clock, tmp_path)
    yield Participant(app, study.experiment_id)
    engine_of(app).dispose()


def test_a_german_study_has_no_english_participant_string(german):
    p = german
    english = _english_fragments()
    pages = {"landing": p.page("").get_data(as_text=True), "consent": p.page("consent").get_data(as_text=True)}
    p.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "y"})
    pages["headphones"] = p.page("headphones").get_data(as_text=True)
    p.headphones()
    pages["instructions"] = p.page("instructions").get_data(as_text=True)
    p.instructions()
    pages["task"] = p.page("task").get_data(as_text=True)
    p.finish_trials()
    pages["questionnaire"] = p.page("questionnaire").get_data(as_text=True)
    p.post("questionnaire", {"submit": "y"})
    pages["debrief"] = p.page("debrief").get_data(as_text=True)
    pages["withdraw"] = p.page("withdraw").get_data(as_text=True)
    p.post("withdraw")
    pages["withdrawn"] = p.page("withdrawn").get_data(as_text=True)
    for name, html in pages.items():
        assert '<html lang="de">' in html, name
        left = [e for e in english if e in html]
        assert not left, (name, left[:3])
    assert "Information und Einwilligung" in pages["consent"] and "User-Agent" in pages["consent"]
    assert "Abbrechen und Teilnahme zurückziehen" in pages["task"]
    table = json.loads(re.search(r'id="i18n">(.*?)</script>', pages["task"], re.S).group(1))
    assert table["trial_of"] == "Durchgang {n} von {total}" and table["correct"] == "Richtig!"
    assert "Sie haben Ihre Teilnahme zurückgezogen" in pages["withdrawn"]
    assert "1 Minute" in pages["instructions"] and "25 Minuten" in pages["landing"]


def test_consent_page_quotes_the_study_text_and_says_what_is_stored(german):
    html = german.page("consent").get_data(as_text=True)
    assert "<p>Wir untersuchen Musik.</p><p>Zweiter Absatz &lt;b&gt;.</p>" in html  # paragraphs, escaped
    assert "Dr. Muster, muster@example.org" in html and "EK-2026-17" in html and "Zehn Jahre am Institut." in html
    assert "etwa 25 Minuten, höchstens 30 Minuten" in html


def test_english_is_the_default_and_names_the_user_agent(participant):
    html = participant().page("consent").get_data(as_text=True)
    assert '<html lang="en">' in html and "user agent" in html and "Stop and withdraw" in html
    assert 'id="ethics-reference"' not in html and 'id="study-description"' not in html  # unset: no empty lines
