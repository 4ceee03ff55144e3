"""The participant's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

try:  # WTForms >= 3.3 deprecates (value, label) tuples
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None


def _choices(pairs: list[tuple[str, str]]) -> list:
    """Choices in the form this WTForms version prefers."""
    return [SelectChoice(v, label) for v, label in pairs] if SelectChoice is not None else pairs


class ConsentForm(FlaskForm):
    """Agree (every box ticked) or decline."""

    read_info = BooleanField(_l("I have read the information above."))
    voluntary = BooleanField(_l("I take part voluntarily and may stop at any time without giving a reason."))
    data_use = BooleanField(_l("I agree that my anonymous answers are stored and used for research."))
    agree = SubmitField(_l("I agree, start"))
    decline = SubmitField(_l("I do not agree"))

    def all_ticked(self) -> bool:
        """Consent needs every statement ticked."""
        return bool(self.read_info.data and self.voluntary.data and self.data_use.data)


class HeadphoneForm(FlaskForm):
    """The volume chosen; the check's answers (t1…tN, each 1-3) are read from the form by the view."""

    volume = FloatField(_l("Volume"), validators=[Optional(), NumberRange(min=0.0, max=1.0)])


class ContinueForm(FlaskForm):
    """A form with nothing but its CSRF token: one button that moves the session on."""


class QuestionnaireForm(FlaskForm):
    """The short end-of-study questionnaire; every question may be skipped."""

    age = SelectField(_l("Your age"), validators=[Optional()], choices=_choices([
        ("", _l("prefer not to say")), ("18-24", "18–24"), ("25-34", "25–34"), ("35-44", "35–44"),
        ("45-54", "45–54"), ("55+", _l("55 or over"))]))
    hearing = RadioField(_l("Do you have any known hearing difficulty?"), validators=[Optional()], choices=_choices([
        ("no", _l("No")), ("yes", _l("Yes")), ("unsure", _l("Not sure"))]))
    training = SelectField(_l("Years of musical training (instrument or voice)"), validators=[Optional()],
                           choices=_choices([("", _l("prefer not to say")), ("0", _l("none")), ("1-2", "1–2"),
                                             ("3-5", "3–5"), ("6-10", "6–10"), ("10+", _l("more than 10"))]))
    device = RadioField(_l("What did you listen with?"), validators=[Optional()], choices=_choices([
        ("over-ear", _l("Over-ear headphones")), ("in-ear", _l("In-ear headphones / earbuds")),
        ("speakers", _l("Loudspeakers")), ("other", _l("Other"))]))
    environment = RadioField(_l("How quiet was it around you?"), validators=[Optional()], choices=_choices([
        ("quiet", _l("Quiet")), ("some", _l("Some noise")), ("noisy", _l("Noisy"))]))
    familiar = RadioField(_l("Did you know any of the music before?"),
                          choices=_choices([("none", _l("None of it")), ("some", _l("Some of it")),
                                            ("all", _l("All of it"))]),
                          validators=[Optional()])
    strategy = TextAreaField(_l("How did you decide between A and B?"), validators=[Optional(), Length(max=2000)])
    problems = TextAreaField(_l("Any technical problems?"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Submit and finish"))

    def answers(self) -> dict[str, str]:
        """The answers as a plain mapping (empty strings for skipped questions)."""
        names = ("age", "hearing", "training", "device", "environment", "familiar", "strategy", "problems")
        return {n: (getattr(self, n).data or "").strip() for n in names}
