"""The admin panel's forms (every one carries its CSRF token, see Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp

from experiment.settings import DEFAULTS
from experiment.status import DEFAULT_FOIL_POLICY, FoilPolicy
from experiment.texts import LANGUAGES, TEXT_LIMITS


def _choices(pairs: list[tuple[str, str]]) -> list:
    """Choices in the form this WTForms version prefers (as experiment.forms does)."""
    try:
        from wtforms import SelectChoice
    except ImportError:  # pragma: no cover - older WTForms
        return pairs
    return [SelectChoice(v, label) for v, label in pairs]


class ActionForm(FlaskForm):
    """A button that posts nothing but its CSRF token (logout, open, close, previews)."""


class StudyTextFields:
    """The participant text and language of a study (experiment/texts.py), on the new-study and the study page."""

    language = SelectField("Language of the participant pages", default="en",
                           choices=_choices(sorted(LANGUAGES.items())))
    expected_minutes = IntegerField("Expected minutes (landing and consent pages)", default=DEFAULTS.expected_minutes,
                                    validators=[Optional(), NumberRange(min=1, max=600)])
    consent_text = TextAreaField("Consent text: your description of the study, first on the consent page (blank: "
                                 "the default; a blank line starts a paragraph)",
                                 validators=[Optional(), Length(max=TEXT_LIMITS["consent_text"])])
    researcher_contact = StringField("Researcher contact (consent, withdrawal and debrief pages)",
                                     validators=[Optional(), Length(max=TEXT_LIMITS["researcher_contact"])])
    ethics_reference = StringField("Ethics approval reference",
                                   validators=[Optional(), Length(max=TEXT_LIMITS["ethics_reference"])])
    data_retention = StringField("Data retention (how long the data are kept)",
                                 validators=[Optional(), Length(max=TEXT_LIMITS["data_retention"])])

    def texts(self) -> dict:
        """The fields as study settings (blank text: the page's default)."""
        def text(field) -> str | None:  # noqa: ANN001 - a WTForms field
            return (field.data or "").strip() or None

        return {"language": self.language.data, "expected_minutes": self.expected_minutes.data,
                "consent_text": text(self.consent_text), "researcher_contact": text(self.researcher_contact),
                "ethics_reference": text(self.ethics_reference), "data_retention": text(self.data_retention)}


class StudyTextForm(StudyTextFields, FlaskForm):
    """Change a study's participant text and language (its design and limits stay as recorded)."""

    submit = SubmitField("Save the participant text")


class NewStudyForm(StudyTextFields, FlaskForm):
    """A study from an uploaded clips zip (manifest.json + audio) or from a manifest already on the server."""

    name = StringField("Name", validators=[Optional(), Length(max=200)])
    manifest_zip = FileField("Upload a zip with manifest.json and the audio it names")
    manifest_path = StringField("…or the path of a manifest.json on the server",
                                validators=[Optional(), Length(max=1024)])
    quota = IntegerField("Participants per version", default=8, validators=[NumberRange(min=0, max=100000)])
    seed = IntegerField("Seed of the design draw", default=0, validators=[NumberRange(min=0, max=2**31 - 1)])
    foil_policy = SelectField("Foil", default=DEFAULT_FOIL_POLICY.value, choices=_choices([
        (FoilPolicy.MIXED.value, "mixed: half from a different song, half from the same song at another time"),
        (FoilPolicy.DIFFERENT_SONG.value, "from a different song (the paper)"),
        (FoilPolicy.SAME_SONG.value, "from the same song at another time (harder)")]))
    completion_code = StringField("Completion code (blank: random)", validators=[
        Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9]+$", message="letters and digits only")])
    screened_out_code = StringField("Screened-out code for a failed headphone check (blank: random)", validators=[
        Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9]+$", message="letters and digits only")])
    headphone_retry = BooleanField("Allow one retry of the headphone check (new sounds) before screening out",
                                   default=bool(DEFAULTS.headphone_retries))
    headphone_screen_out = SelectField("A failed headphone check (after any retry)",
                                       default="screen_out" if DEFAULTS.headphone_screen_out else "go_on", choices=_choices([
                                           ("screen_out", "ends the session (screened out, the place given back)"),
                                           ("go_on", "is recorded and the session goes on")]))
    headphone_trials = IntegerField("Sounds in the headphone check (each test)", default=DEFAULTS.headphone_trials,
                                    validators=[NumberRange(min=1, max=20)])
    headphone_pass = IntegerField("Sounds answered right to pass it (each test)", default=DEFAULTS.headphone_pass,
                                  validators=[NumberRange(min=1, max=20)])
    session_cap_minutes = IntegerField("Time cap of a whole session, minutes (then its place is given back)",
                                       default=DEFAULTS.session_cap_s // 60, validators=[NumberRange(min=1, max=1440)])
    trial_limit_s = IntegerField("Time limit of one trial, seconds", default=DEFAULTS.trial_limit_s,
                                 validators=[NumberRange(min=5, max=3600)])
    events_per_session = IntegerField("The most client events one session may log",
                                      default=DEFAULTS.events_per_session,
                                      validators=[NumberRange(min=100, max=1_000_000)])
    headphone_screen = SelectField("Headphone screen", default=DEFAULTS.headphone_screen, choices=_choices([
        ("huggins", "Huggins pitch alone (about 20% of loudspeaker users pass; Milne et al. 2021)"),
        ("huggins+antiphase", "Huggins pitch and the antiphase test, both passed (about 7%)")]))
    require_listening = BooleanField("Require X, A and B to be played before each answer (checked on the server)",
                                     default=DEFAULTS.require_listening)
    second_device = SelectField("The same Prolific id arriving on a second device", default=DEFAULTS.second_device,
                                choices=_choices([
        ("refuse", "is refused (the session stays on the first device)"),
        ("recheck", "takes the session over after the headphone check again")]))
    open_now = BooleanField("Open to participants at once (otherwise it starts as a draft)")
    require_prolific = BooleanField("Admit only arrivals with a Prolific id (PROLIFIC_PID)",
                                    default=DEFAULTS.require_prolific)
    prolific_study_id = StringField("Prolific study id (blank: any); arrivals with another STUDY_ID are refused",
                                    validators=[Optional(), Length(max=64), Regexp(r"^[A-Za-z0-9]+$",
                                                                                   message="letters and digits only")])
    idle_minutes = IntegerField("Release a place held by someone idle this many minutes (0: only at the time cap)",
                                default=(DEFAULTS.idle_release_s or 0) // 60,
                                validators=[NumberRange(min=0, max=24 * 60)])
    catch_trials = IntegerField("Catch trials per session (X played again on one side; never scored)",
                                default=DEFAULTS.catch_trials,
                                validators=[NumberRange(min=0, max=12)])
    too_fast_ms = IntegerField("Flag answers faster than this many ms", default=DEFAULTS.too_fast_ms,
                               validators=[NumberRange(min=0, max=60_000)])
    places_per_client = IntegerField("New places one client address may take per window (0: no cap; raise it "
                                     "for a lab running many participants from one machine)",
                                     default=DEFAULTS.places_per_client, validators=[NumberRange(min=0, max=100_000)])
    places_window_minutes = IntegerField("The window of that cap, minutes", default=DEFAULTS.places_window_s // 60,
                                         validators=[NumberRange(min=1, max=7 * 24 * 60)])
    submit = SubmitField("Create the study")

    def settings(self) -> dict:
        """Every study setting from the form (StudySettings checks them when the study is made)."""
        def code(field) -> str | None:  # noqa: ANN001 - a WTForms field
            return (field.data or "").strip() or None

        return {"require_prolific": bool(self.require_prolific.data),
                "prolific_study_id": code(self.prolific_study_id),
                "idle_release_s": 60 * int(self.idle_minutes.data or 0) or None,
                "places_per_client": int(self.places_per_client.data or 0),
                "places_window_s": 60 * int(self.places_window_minutes.data or 0),
                "headphone_retries": 1 if self.headphone_retry.data else 0,
                "headphone_screen": self.headphone_screen.data or DEFAULTS.headphone_screen,
                "headphone_screen_out": self.headphone_screen_out.data != "go_on",
                "headphone_trials": int(self.headphone_trials.data or 0),
                "headphone_pass": int(self.headphone_pass.data or 0),
                "session_cap_s": 60 * int(self.session_cap_minutes.data or 0),
                "trial_limit_s": int(self.trial_limit_s.data or 0),
                "events_per_session": int(self.events_per_session.data or 0),
                "require_listening": bool(self.require_listening.data),
                "second_device": self.second_device.data or DEFAULTS.second_device,
                "catch_trials": int(self.catch_trials.data or 0),
                "too_fast_ms": int(self.too_fast_ms.data or 0),
                "completion_code": code(self.completion_code), "screened_out_code": code(self.screened_out_code),
                **self.texts()}


class WithdrawForm(FlaskForm):
    """Withdraw a participant: data kept, flagged, excluded from analysis."""

    reason = TextAreaField("Reason (kept in the audit log)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Withdraw")


class EraseForm(FlaskForm):
    """Erase a participant's data on request: the listener id must be typed to confirm."""

    confirm = StringField("Type the listener id to confirm", validators=[DataRequired(), Length(max=64)])
    reason = TextAreaField("Reason (kept in the audit log)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Erase their data")


class NewAdminForm(FlaskForm):
    """A new experimenter account (experiment.auth.create_user, as the CLI's create-user)."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Password again", validators=[DataRequired(), EqualTo("password",
                                                                                  message="the passwords differ")])
    submit = SubmitField("Create the account")


class PasswordForm(FlaskForm):
    """A new password for an account (ends its logins; reactivates a deactivated account)."""

    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("password",
                                                                                      message="the passwords differ")])
    submit = SubmitField("Set the password")


class CloneForm(FlaskForm):
    """Clone a study into a new draft: same manifest, settings and quotas; a name and (optionally) a new seed."""

    name = StringField("Name of the copy", validators=[Optional(), Length(max=200)])
    seed = IntegerField("Seed of the design draw (blank: the same)", validators=[Optional(),
                                                                                 NumberRange(min=0, max=2**31 - 1)])
    foil_policy = SelectField("Foil (blank: the same)", default="", validators=[Optional()], choices=_choices([
        ("", "the same"), (FoilPolicy.MIXED.value, "mixed"), (FoilPolicy.DIFFERENT_SONG.value, "different song"),
        (FoilPolicy.SAME_SONG.value, "same song")]))
    submit = SubmitField("Clone to a new draft")
