"""A short human summary of a run, printed at the end of `tuneback reconstruct run` and the demo."""

from __future__ import annotations

from reconstruct.config import RunConfig


def format_summary(config: RunConfig, results: dict[str, dict], *, choice: dict | None = None,
                   reference: dict | None = None) -> str:
    """Where the clips are, what data made them, and how recognisable they are; with `--decoder auto` the
    validation scores that chose the decoder, and (`reference`) the paper CNN's test figures beside it."""
    lines = []
    load = results.get("load", {})
    label = "SIMULATED data set" if load.get("simulated") else "data set"
    lines.append(f"{label}: {load.get('name')} ({load.get('n_recordings')} recordings, "
                 f"{len(load.get('songs', []))} songs)")
    if "train" in results:
        t = results["train"]
        lines.append(f"decoder: {t['decoder']} trained on {t['n_train']} 1-s examples "
                     f"(val {t['n_val']}), best val MSE {t.get('best_val_loss', t.get('val_loss')):.4f}")
    if "predict" in results:
        lines.append(f"test MSE on {results['predict']['n_test_examples']} held-out seconds: "
                     f"{results['predict']['test_mse']:.4f}")
    if "render" in results:
        r = results["render"]
        lines.append(f"clips: {r['n_clips']} WAVs at {r['loudness_lufs']:.1f} LUFS; manifest: {r['manifest']}")
    if "observe" in results:
        for key, what in (("rendered_audio", "as heard"), ("predicted_spectra", "predicted spectra")):
            o = results["observe"].get(key)
            if o:
                lines.append(f"ideal observer, the 48 study pairs, different-song foils ({what}): {o['correct']}/"
                             f"{o['n']} = {o['accuracy']:.1%} (95% CI {o['ci95'][0]:.1%}–{o['ci95'][1]:.1%}, "
                             "chance 50%)")
        kinds = results["observe"].get("foil_kinds")
        if kinds:
            from reconstruct.evaluation.observer import format_kind_lines
            lines.append("predicted per foil kind, as heard, beside identity alone (each reconstruction replaced "
                         "by its song's rendered mean spectrogram); a mixed study holds both kinds:")
            lines += format_kind_lines(kinds)
        ev = results["observe"].get("all_test_chunks")
        if ev:
            from reconstruct.evaluation.time_specific import format_evidence
            lines.append(f"every test chunk ({ev['n_test_chunks']}), predicted spectra; different-song = song "
                         "identity, the rest = time within the song:")
            lines += format_evidence(ev)
        fp = results["observe"].get("fingerprint")
        if fp:
            from reconstruct.evaluation.fingerprint import format_fingerprint
            lines += format_fingerprint(fp)
    if choice:
        lines.append(f"decoder chosen on validation chunks only ({choice['measure']}): {choice['chosen']}")
        for name, s in choice["validation"].items():
            lines.append(f"  {name:9s} validation same-song {s['same_song']:.1%}, top-1 {s['top1']:.1%}, "
                         f"MSE {s['val_mse']:.4f}")
    if reference:
        from reconstruct.evaluation.time_specific import format_evidence
        lines.append("the paper's CNN (PSD→mel) beside it, every test chunk:")
        lines += format_evidence(reference)
    return "\n".join(lines)
