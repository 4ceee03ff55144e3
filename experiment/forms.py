"""The participant's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

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

    read_info = BooleanField("I have read the information above.")
    voluntary = BooleanField("I take part voluntarily and may stop at any time without giving a reason.")
    data_use = BooleanField("I agree that my anonymous answers are stored and used for research.")
    agree = SubmitField("I agree, start")
    decline = SubmitField("I do not agree")

    def all_ticked(self) -> bool:
        """Consent needs every statement ticked."""
        return bool(self.read_info.data and self.voluntary.data and self.data_use.data)


class HeadphoneForm(FlaskForm):
    """The volume chosen; the check's answers (t1…tN, each 1-3) are read from the form by the view."""

    volume = FloatField("Volume", validators=[Optional(), NumberRange(min=0.0, max=1.0)])


class ContinueForm(FlaskForm):
    """A form with nothing but its CSRF token: one button that moves the session on."""


class QuestionnaireForm(FlaskForm):
    """The short end-of-study questionnaire; every question may be skipped."""

    age = SelectField("Your age", validators=[Optional()], choices=_choices([
        ("", "prefer not to say"), ("18-24", "18–24"), ("25-34", "25–34"), ("35-44", "35–44"), ("45-54", "45–54"),
        ("55+", "55 or over")]))
    hearing = RadioField("Do you have any known hearing difficulty?", validators=[Optional()], choices=_choices([
        ("no", "No"), ("yes", "Yes"), ("unsure", "Not sure")]))
    training = SelectField("Years of musical training (instrument or voice)", validators=[Optional()],
                           choices=_choices([("", "prefer not to say"), ("0", "none"), ("1-2", "1–2"), ("3-5", "3–5"),
                                             ("6-10", "6–10"), ("10+", "more than 10")]))
    device = RadioField("What did you listen with?", validators=[Optional()], choices=_choices([
        ("over-ear", "Over-ear headphones"), ("in-ear", "In-ear headphones / earbuds"), ("speakers", "Loudspeakers"),
        ("other", "Other")]))
    environment = RadioField("How quiet was it around you?", validators=[Optional()], choices=_choices([
        ("quiet", "Quiet"), ("some", "Some noise"), ("noisy", "Noisy")]))
    familiar = RadioField("Did you know any of the music before?",
                          choices=_choices([("none", "None of it"), ("some", "Some of it"), ("all", "All of it")]),
                          validators=[Optional()])
    strategy = TextAreaField("How did you decide between A and B?", validators=[Optional(), Length(max=2000)])
    problems = TextAreaField("Any technical problems?", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Submit and finish")

    def answers(self) -> dict[str, str]:
        """The answers as a plain mapping (empty strings for skipped questions)."""
        names = ("age", "hearing", "training", "device", "environment", "familiar", "strategy", "problems")
        return {n: (getattr(self, n).data or "").strip() for n in names}
