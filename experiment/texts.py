"""The study's own participant text (issue 15): consent text, researcher contact, ethics reference, data retention,
expected minutes and the language of every participant page, kept in `experiment.settings`, never in templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}
"""Languages with a complete participant catalogue (translations/<code>/LC_MESSAGES/messages.po)."""

DEFAULT_LANGUAGE = "en"

TEXT_LIMITS: dict[str, int] = {
    "consent_text": 5000,  # the researchers' own description of the study, shown first on the consent page
    "researcher_contact": 500,  # who to contact (name, e-mail or address)
    "ethics_reference": 200,  # the ethics committee's approval reference
    "data_retention": 1000,  # how long the data are kept and where
}
"""Free-text study settings and their longest allowed length (characters)."""

TEXT_KEYS: tuple[str, ...] = (*TEXT_LIMITS, "expected_minutes", "language")
"""Every participant-text setting, the ones `configure` may change on an existing study."""


@dataclass(frozen=True)
class StudyTexts:
    """What the participant pages quote from the study's settings (None: the page's own default wording)."""

    consent_text: str | None
    researcher_contact: str | None
    ethics_reference: str | None
    data_retention: str | None
    language: str

    @classmethod
    def of(cls, settings: Any) -> StudyTexts:  # noqa: ANN401 - a StudySettings or a stored dict
        """Read the settings, tolerating studies made before these settings existed."""
        s = settings.as_dict() if hasattr(settings, "as_dict") else settings or {}

        def text(key: str) -> str | None:
            value = s.get(key)
            return value.strip() or None if isinstance(value, str) else None

        language = s.get("language")
        return cls(text("consent_text"), text("researcher_contact"), text("ethics_reference"), text("data_retention"),
                   language if language in LANGUAGES else DEFAULT_LANGUAGE)

    def paragraphs(self, key: str) -> list[str]:
        """A text setting split into paragraphs at blank lines (the template escapes each one)."""
        value = getattr(self, key) or ""
        return [p.strip() for p in value.replace("\r\n", "\n").split("\n\n") if p.strip()]
