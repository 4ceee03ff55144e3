"""The demo's glue: building the study from a manifest is idempotent, on both databases."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "experiment"))

from experiment_factory import make_manifest  # noqa: E402

from experiment.design_export import study_trials, triples  # noqa: E402
from tuneback.demo import ensure_admin, find_or_create_study, observe_study  # noqa: E402


def test_study_is_built_once_per_manifest(database_url, tmp_path):
    manifest = make_manifest(tmp_path / "clips")
    first = find_or_create_study(database_url, manifest)
    assert find_or_create_study(database_url, manifest) == first


def test_observer_runs_on_the_studys_own_trials(sqlite_url, tmp_path):
    manifest = make_manifest(tmp_path / "clips")
    design = study_trials(sqlite_url, find_or_create_study(sqlite_url, manifest))
    assert [len(v["trials"]) for v in design["versions"]] == [24, 24]
    trials = triples(design)
    assert len(trials) == 48 and len({t[1] for t in trials}) == 48
    result = observe_study(manifest, trials)
    assert result["n"] == 48 and result["correct"] == round(result["accuracy"] * 48)
    # scored on these very trials: X as its own match always wins, X as its own foil always loses
    assert observe_study(manifest, [(x, x, foil) for x, _, foil in trials])["correct"] == 48
    assert observe_study(manifest, [(x, foil, x) for x, _, foil in trials])["correct"] == 0


def test_demo_admin_password_is_fresh_each_run_and_works(sqlite_url, tmp_path):
    from experiment.auth import check_password
    from experiment.db import make_engine, upgrade

    upgrade(sqlite_url)
    first, second = ensure_admin(sqlite_url), ensure_admin(sqlite_url)
    assert first != second
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("select password_hash from admin_user where username = 'admin'").scalar()
    engine.dispose()
    assert check_password(stored, second) and not check_password(stored, first)


def test_demo_builds_a_mixed_study_by_default_and_another_policy_apart(sqlite_url, tmp_path):
    import sqlalchemy as sa

    from experiment.db import make_engine
    from experiment.models import Experiment

    manifest = make_manifest(tmp_path / "clips")
    mixed = find_or_create_study(sqlite_url, manifest)
    paper = find_or_create_study(sqlite_url, manifest, foil_policy="different-song")
    assert mixed != paper and find_or_create_study(sqlite_url, manifest) == mixed
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        policies = dict(conn.execute(sa.select(Experiment.id, Experiment.foil_policy)).all())
    engine.dispose()
    assert policies == {mixed: "mixed", paper: "different-song"}


def test_lines_verdict_needs_the_lower_bound_above_chance_and_identity():
    from tuneback.demo import lines_verdict

    def lines(low, identity):
        return {"kinds": {"same-song": {"every_pair": {"ci95": [low, 0.8]}, "identity_every_pair": {"accuracy": identity}}}}

    assert "is above both" in lines_verdict(lines(0.64, 0.46))
    assert "NOT above" in lines_verdict(lines(0.49, 0.46)) and "NOT above" in lines_verdict(lines(0.55, 0.57))
    assert "cannot show decoding" in lines_verdict({"kinds": {}})


def test_the_demo_study_names_its_researcher_contact(sqlite_url, tmp_path):
    """Issue 29: consent says participants can contact the researchers, so the demo study fills in who that is."""
    import sqlalchemy as sa

    from experiment.db import make_engine
    from experiment.models import Experiment

    manifest = make_manifest(tmp_path / "clips")
    find_or_create_study(sqlite_url, manifest)
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        settings = conn.execute(sa.select(Experiment.settings)).scalar_one()
    engine.dispose()
    assert all(settings.get(k) for k in ("researcher_contact", "ethics_reference", "data_retention"))


@pytest.mark.parametrize("args, decoder, input_kind", [([], "auto", "psd"), (["--old-default"], "cnn", "psd"),
                                                       (["--decoder", "trf"], "trf", "raw")])
def test_the_demo_command_line_builds_its_config(monkeypatch, tmp_path, args, decoder, input_kind):
    """The README's first command parses into a run config before any work (`auto` once broke it: every
    decoder name is checked against the registry, and `auto` is none)."""
    from click.testing import CliRunner

    import reconstruct.decoder_choice
    from tuneback.demo import cli

    seen = {}

    def stop(config, **_kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(reconstruct.decoder_choice, "resolve_decoder", stop)
    result = CliRunner().invoke(cli, ["--no-serve", "--run-dir", str(tmp_path / "run"), *args])
    assert result.exit_code == 0, result.output
    assert (seen["config"].decoder, seen["config"].input_kind) == (decoder, input_kind)
