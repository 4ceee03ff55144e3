"""The participant-fingerprint control: how much of a result recognising the participant would explain.

On the NMED-H design each EEG participant heard one song, so whoever can tell the participant from the
EEG knows the song without decoding any music. Three figures, reported wherever such results are:

* **participant ID**: a linear classifier on each second's channel means and log-variances (offsets,
  drifts, gains and the head's noise profile: no music), trained on training seconds, tested on test
  chunks (and, when the run holds a test presentation, on the other presentation's test chunks);
* **identity-only decoder**: each test chunk's participant predicted from its EEG, replaced by the mean
  training spectrogram of that participant's song, scored by the same observers as the decoder. Where it
  reaches the decoder's different-song score, the different-song test cannot tell decoding from identity
  on this design, and the same-song figures are the evidence;
* **the other presentation**: the held-out presentation's test chunks decoded by the model that never saw
  that presentation, scored by the same observers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from reconstruct import features as feat
from reconstruct.config import RunConfig
from reconstruct.evaluation.stats import accuracy_vs_chance
from reconstruct.evaluation.time_specific import (
    HeldOutChunks,
    at_chance,
    beats_baseline,
    load_test_chunks,
    score_spectra,
    song_mean_baseline,
)
from reconstruct.recording import one_song_per_participant
from reconstruct.decoders.registry import get_decoder
from reconstruct.decoding import check_input, predict_seconds
from reconstruct.rundir import RunDir
from reconstruct.split import CHUNK_S, TEST, TRAIN, VAL

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def second_features(eeg: np.ndarray) -> np.ndarray:
    """Per second, each channel's mean and log-variance [shape=(seconds, 2 × channels)]: the make-up of
    a recording (offsets, drifts, gains, noise profile), not the music."""
    n = eeg.shape[1] // feat.EEG_FS
    w = np.asarray(eeg[:, :n * feat.EEG_FS], np.float64).reshape(eeg.shape[0], n, feat.EEG_FS)
    return np.concatenate([w.mean(axis=2).T, np.log(w.var(axis=2).T + 1e-12)], axis=1)


def _fit_participants(eeg: np.ndarray, table: list[tuple[str, str]], roles: np.ndarray) -> Pipeline:
    """A standardised multinomial logistic regression from second features to participant, on training
    and validation seconds only."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x, y = [], []
    for r, (participant, _) in enumerate(table):
        keep = np.isin(roles[r], [TRAIN, VAL])
        x.append(second_features(eeg[r])[keep])
        y += [participant] * int(keep.sum())
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300)).fit(np.concatenate(x), y)


def _chunk_votes(model: Pipeline, eeg: np.ndarray, chunks: HeldOutChunks) -> np.ndarray:
    """The participant predicted for each test chunk: the most probable over its five seconds."""
    classes = model.classes_
    out = np.empty(len(chunks), dtype=object)
    for r in np.unique(chunks.recording):
        proba = model.predict_log_proba(second_features(eeg[r]))
        for i in np.flatnonzero(chunks.recording == r):
            sec = slice(chunks.chunk[i] * CHUNK_S, (chunks.chunk[i] + 1) * CHUNK_S)
            out[i] = classes[int(np.argmax(proba[sec].sum(axis=0)))]
    return out


def _id_accuracy(predicted: np.ndarray, chunks: HeldOutChunks, n_participants: int,
                 song_of: dict[str, str]) -> dict:
    hits = int(np.sum(predicted == chunks.participant))
    out = {**accuracy_vs_chance(hits, len(chunks), 1 / n_participants), "per": "test chunk (5 s)"}
    if song_of:
        song_hits = int(sum(song_of[p] == s for p, s in zip(predicted, chunks.song)))
        n_songs = len(set(song_of.values()))
        out["song_from_participant"] = accuracy_vs_chance(song_hits, len(chunks), 1 / n_songs)
    return out


def other_presentation_chunks(config: RunConfig, table: list[tuple[str, str]],
                              held: list[tuple[str, str]]) -> HeldOutChunks | None:
    """The held-out presentation's test chunks, decoded by the run's model (which never saw them), at the
    test chunks of the same participant and song in the training presentation.

    Any registered decoder, through the path the predict stage takes (`reconstruct.decoding`): a per-second
    decoder reads each second's input, a segment decoder each test chunk's raw EEG."""
    if not held:
        return None
    run = RunDir.of(config)
    decoder = get_decoder(config.decoder)
    check_input(decoder, config.input_kind)
    model = decoder.load(run.model, config)  # the finished run's own model, read through the run directory
    songs, targets, used = run.target_songs(), run.targets(), run.used_s()
    eeg, roles = run.eeg(held_out=True), run.split().chunk_roles
    source = {pair: i for i, pair in enumerate(table)}
    rec, chunk, recon, truth = [], [], [], []
    for h, pair in enumerate(held):
        if pair not in source:
            continue
        test = np.flatnonzero(roles[source[pair]] == TEST)
        x = feat.eeg_input(np.asarray(eeg[h]), kind=config.input_kind, n_seconds=used)
        seconds = (test[:, None] * CHUNK_S + np.arange(CHUNK_S)).ravel()
        pred = predict_seconds(decoder, model, x, seconds, participants=[pair[0]], used_s=used)
        recon += list(pred.reshape(len(test), CHUNK_S * pred.shape[1], -1))
        y = np.asarray(targets[songs.index(pair[1])])
        truth += [np.concatenate(y[c * CHUNK_S:(c + 1) * CHUNK_S]) for c in test]
        rec += [h] * len(test)
        chunk += list(test)
    if not rec:
        return None
    return HeldOutChunks(recording=np.array(rec), participant=np.array([held[h][0] for h in rec]),
                         song=np.array([held[h][1] for h in rec]), chunk=np.array(chunk),
                         recon=np.stack(recon), truth=np.stack(truth))


def _scored(config: RunConfig, chunks: HeldOutChunks, recon: np.ndarray, *, seed: int) -> dict:
    scores = score_spectra(chunks, recon, seed=seed)
    baseline = score_spectra(chunks, song_mean_baseline(config, chunks), seed=seed)
    return {"n_test_chunks": len(chunks), "decoder": scores, "song_mean_baseline": baseline,
            "beats_baseline": beats_baseline(scores, baseline), "at_chance": at_chance(scores)}


def fingerprint_control(config: RunConfig, *, seed: int = 0, decoder: dict | None = None) -> dict:
    """Participant ID from the EEG, the identity-only decoder and the other presentation (module doc).

    `decoder` is the run's own `score_spectra` of its test chunks where the caller has it already."""
    run = RunDir.of(config)
    table = RunDir.of(config).recordings()
    participants = sorted({p for p, _ in table})
    one_song = one_song_per_participant(table)
    song_of = dict(table) if one_song else {}
    out: dict = {"design": "one song per participant" if one_song else "participants heard several songs",
                 "n_participants": len(participants)}
    if len(participants) < 2:
        return {**out, "skipped": "one participant: nothing to recognise"}
    split = RunDir.of(config).split()
    roles = split.example_roles().reshape(len(table), split.used_s)
    eeg = run.eeg()
    model = _fit_participants(eeg, table, roles)
    chunks = load_test_chunks(config)
    predicted = _chunk_votes(model, eeg, chunks)
    out["participant_id"] = _id_accuracy(predicted, chunks, len(participants), song_of)
    decoder = decoder or score_spectra(chunks, chunks.recon, seed=seed)
    held = RunDir.of(config).recordings(held_out=True)
    other = other_presentation_chunks(config, table, held)
    if other is not None:
        held_eeg = run.eeg(held_out=True)
        votes = _chunk_votes(model, held_eeg, other)
        out["participant_id_other_presentation"] = _id_accuracy(votes, other, len(participants), song_of)
        out["other_presentation"] = _scored(config, other, other.recon, seed=seed)
    if not one_song:
        out["identity_only"] = {"skipped": "participants heard several songs: identity does not give the song"}
        return out
    guessed = replace(chunks, song=np.array([song_of[p] for p in predicted]))
    identity = score_spectra(chunks, song_mean_baseline(config, guessed), seed=seed)
    out["identity_only"] = identity
    explains = identity["different_song"]["accuracy"] >= decoder["different_song"]["ci95"][0]
    out["identity_explains_different_song"] = bool(explains)
    out["verdict"] = (
        "the identity-only decoder reaches the decoder's different-song score: on this design the different-song "
        "test cannot tell decoding from recognising the participant; the same-song figures are the evidence"
        if explains else
        "the decoder's different-song score is above what recognising the participant gives")
    return out


def format_fingerprint(fp: dict) -> list[str]:
    """Human lines for the demo summary and `evaluate`."""
    if "participant_id" not in fp:
        return [f"participant fingerprint: {fp.get('skipped', 'not computed')}"]
    pid = fp["participant_id"]
    lines = [f"participant fingerprint ({fp['design']}): the EEG's make-up alone names the participant in "
             f"{pid['accuracy']:.1%} of test chunks (chance {pid['chance']:.1%})"]
    other = fp.get("participant_id_other_presentation")
    if other:
        lines[-1] += f", {other['accuracy']:.1%} across presentations"
    ident = fp.get("identity_only")
    if ident and "different_song" in ident:
        d, s = ident["different_song"], ident["same_song"]
        lines.append(f"  identity-only decoder (participant → their song's mean): different-song {d['accuracy']:.1%}, "
                     f"same-song {s['accuracy']:.1%} (chance 50%)")
        lines.append(f"  {fp['verdict']}")
    op = fp.get("other_presentation")
    if op:
        d = op["decoder"]
        lines.append("  the other presentation, never trained on: "
                     f"different-song {d['different_song']['accuracy']:.1%}, "
                     f"same-song {d['same_song']['accuracy']:.1%}, top-1 span "
                     f"{d['span_id']['top1']['accuracy']:.1%} (chance {d['span_id']['top1']['chance']:.1%})")
    return lines

