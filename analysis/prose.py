"""The results in words: one APA-style paragraph a reader can paste into a paper, built from results.json alone.

APA 7 conventions: no leading zero on p (it cannot exceed 1), "p < .001" below a thousandth, statistics
to two decimals, percentages to one, df in parentheses, italics left to the reader's word processor.
"""

from __future__ import annotations

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                "nineteen", "twenty")
REASON_WORDS = {"failed headphone check": "failed the headphone check", "withdrawn": "withdrew",
                "failed catch trials": "missed too many catch trials"}


def apa_p(p: float | None) -> str:
    """'p < .001', 'p = .042', 'p > .999': APA's exact p with no leading zero."""
    if p is None:
        return "p not computable"
    if p < 0.001:
        return "p < .001"
    if p > 0.999:
        return "p > .999"
    return "p = " + f"{p:.3f}".lstrip("0")


def pct(x: float | None) -> str:
    """A proportion as a percentage with one decimal ('84.9%')."""
    return "n/a" if x is None else f"{100 * x:.1f}%"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 listener', '3 listeners'."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def spelled(n: int) -> str:
    """A count in words up to twenty (APA: numbers that open a sentence are written out)."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def results_paragraph(results: dict) -> str:
    """The headline results as one paragraph: accuracy, t, Wilcoxon, Holm, model, d′, foils and exclusions."""
    primary, options = results["primary"], results["options"]
    g, chance = primary["group"], options["chance"]
    sentences = [_accuracy_sentence(g, chance), _wilcoxon_sentence(g["wilcoxon"]), _holm_sentence(g, options),
                 _model_sentence(primary["mixed_model"]), _dprime_sentence(primary["dprime"]),
                 _foil_sentence(primary["breakdowns"].get("foil")),
                 _exclusion_sentence(results["exclusions"]["primary"], results["input"]),
                 _sensitivity_sentence(results.get("sensitivity", {}))]
    return " ".join(s for s in sentences if s)


def _accuracy_sentence(g: dict, chance: float) -> str:
    """Mean accuracy with its spread and the one-sample t-test against chance."""
    t = g["t_test"]
    spread = f"SD = {pct(g['sd'])}, " if g["sd"] is not None else ""
    text = (f"Listeners chose the matching reconstruction on {pct(g['mean'])} of trials on average "
            f"({spread}range {pct(g['min'])}–{pct(g['max'])}")
    if "error" in t:
        return text + f"; chance {chance:.0%}); with {count(g['n_listeners'], 'listener')} the t-test against " \
                      f"chance could not be computed ({t['error']})."
    return (text + f"; 95% CI of the mean [{pct(t['mean_ci_low'])}, {pct(t['mean_ci_high'])}]), against "
            f"{chance:.0%} expected by chance, t({t['df']}) = {t['t']:.2f}, {apa_p(t['p_greater'])} (one-sided), "
            f"d = {t['cohen_d']:.2f}.")


def _wilcoxon_sentence(w: dict) -> str:
    """The signed-rank test, which does not assume normally distributed accuracies."""
    if "error" in w:
        return f"A Wilcoxon signed-rank test was not computable ({w['error']})."
    stat = w.get("w_plus", w["statistic"])
    return (f"A Wilcoxon signed-rank test, which does not assume normality, gave W+ = {stat:g}, "
            f"{apa_p(w['p_greater'])} (one-sided, {count(w['n_nonzero'], 'listener')} not exactly at chance).")


def _holm_sentence(g: dict, options: dict) -> str:
    """How many listeners individually beat chance, after correcting for testing each of them."""
    n, k = g["n_listeners"], g["n_above_chance_holm"]
    alpha = f"{options.get('alpha', 0.05):.2f}".lstrip("0")
    tests = f"(exact one-sided binomial tests, α = {alpha}; {g['n_above_chance']} without correction)"
    if n == 1:  # "Zero of 1 listener were" (issue 29)
        return f"The one listener {'was' if k else 'was not'} above chance after Holm correction {tests}."
    who = "None" if k == 0 else spelled(k).capitalize() if k <= 20 else "In all, " + str(k)
    return f"{who} of {count(n, 'listener')} {'was' if k in (0, 1) else 'were'} above chance after Holm correction {tests}."


def _model_sentence(m: dict) -> str:
    """The crossed listener × item mixed model, which generalises to new listeners and new clips."""
    if "error" in m:
        return f"The mixed logistic model could not be fitted ({m['error']})."
    low, high = m["accuracy_typical_ci"]
    return (f"A mixed logistic model with crossed random intercepts for listeners and items estimated "
            f"{pct(m['accuracy_typical'])} for a typical listener on a typical item, 95% CI [{pct(low)}, {pct(high)}], "
            f"z = {m['z']:.2f}, {apa_p(m['p_greater'])} (one-sided).")


def _dprime_sentence(d: dict) -> str:
    """Sensitivity d′ under the AB-X differencing model, the design's own."""
    value = d["at_pooled_accuracy"].get("abx_differencing")
    return "" if value is None else f"At the pooled accuracy this is a sensitivity of d′ = {value:.2f} (AB-X, differencing model)."


def _foil_sentence(foil: dict | None) -> str:
    """Which foils the listeners rejected: a different song (song identity) or the same song (time-specific)."""
    if not foil:
        return ""
    levels = {r["level"]: r for r in foil["levels"]}
    meaning = {"different song": "a reconstruction of a different song, which tests song identity",
               "same song": "another span of the same song, which tests time-specific information"}
    known = [name for name in ("different song", "same song") if name in levels]
    if len(known) == 1:
        return f"Every foil was {meaning[known[0]]}."
    if len(known) == 2:
        parts = [f"{pct(levels[name]['accuracy'])} [{pct(levels[name]['ci_low'])}, {pct(levels[name]['ci_high'])}] "
                 f"with {meaning[name].split(', which')[0].replace('a reconstruction of ', '')} as the foil"
                 for name in known]
        test = foil["test"]
        compare = (f", χ²({test['df']}) = {test['chi2']:.2f}, {apa_p(test['p'])} (GEE Wald test)"
                   if "p" in test else "")
        return f"Accuracy was {parts[0]} and {parts[1]}{compare}."
    return ""


def _exclusion_sentence(ex: dict, source: dict) -> str:
    """Every exclusion rule in words, with how many listeners and trials it removed."""
    excluded = ex["listeners_excluded"]
    total = ex["n_listeners"] + len(excluded)
    if excluded:
        reasons = "; ".join(f"{n} {REASON_WORDS.get(reason, reason)}"
                            for reason, n in ex["n_listeners_excluded_by_reason"].items())
        who = (f"Of {count(total, 'listener')} with answered trials, {len(excluded)} "
               f"{'was' if len(excluded) == 1 else 'were'} excluded before analysis ({reasons}), leaving "
               f"{count(ex['n_listeners'], 'listener')} and {count(ex['n_trials'], 'trial')}.")
    else:
        who = (f"No listener was excluded ({count(ex['n_listeners'], 'listener')}, "
               f"{count(ex['n_trials'], 'trial')} analysed).")
    rules = ex["rules"]
    stated = []
    stated.append("listeners who failed the headphone check " + (
        "were excluded" if rules["exclude_failed_headphone"] else "were kept"))
    stated.append("withdrawn listeners " + ("were excluded" if rules["exclude_withdrawn"] else "were kept"))
    timed = ex["timed_out_trials"]
    stated.append("no trial timed out at the one-minute limit" if timed == 0 else
                  f"{count(timed, 'trial')} that timed out at the one-minute limit "
                  f"{'was' if timed == 1 else 'were'} {ex['timed_out_handling']}")
    if ex.get("catch_trials_not_scored"):
        failed = sum(c["failed"] for c in ex.get("catch_by_listener", []))
        stated.append(f"{count(ex['catch_trials_not_scored'], 'catch trial')} were not scored and "
                      f"{count(failed, 'listener')} missed more than {rules.get('max_catch_misses', 0)} of them "
                      f"({'excluded' if rules.get('exclude_failed_catch', True) else 'kept'})")
    fast = ex.get("too_fast_trials", 0)
    if fast:
        stated.append(f"{count(fast, 'answer')} faster than the floor {'was' if fast == 1 else 'were'} "
                      f"{ex['too_fast_handling']}")
    practice = ex["practice_trials_not_scored"]
    stated.append(f"practice trials ({practice} in all) were not scored")
    if ex["unanswered_trials_not_scored"]:
        stated.append(f"{count(ex['unanswered_trials_not_scored'], 'trial')} left unanswered when a session "
                      "ended were not scored")
    return who + " By the stated rules, " + ", ".join(stated[:-1]) + ", and " + stated[-1] + "."


def _sensitivity_sentence(sensitivity: dict) -> str:
    """Whether the conclusion survives the other exclusion choices."""
    phrases = {"timeouts_excluded": "with time-outs dropped instead of counted as errors",
               "catch_and_fast_kept": "with catch-trial failures and too-fast answers kept",
               "no_listener_exclusions": "with every listener kept"}
    parts = []
    for name, phrase in phrases.items():
        part = sensitivity.get(name)
        if not part or "error" in part or part.get("same_trials_as_primary"):
            continue
        g = part["group"]
        t = g["t_test"]
        test = f", t({t['df']}) = {t['t']:.2f}, {apa_p(t['p_greater'])}" if "error" not in t else ""
        parts.append(f"{phrase}, mean accuracy was {pct(g['mean'])}{test}")
    if not parts:
        return "The other exclusion choices leave the analysed trials unchanged."
    return ("; ".join(parts)).capitalize() + "."


KIND_WORDS = {"different song": "different-song", "same song": "same-song"}


def claim_paragraph(foil_kinds: dict | None) -> str:
    """Which claim the data support, per foil kind beside what identity alone scores (issue 25). Different-song
    accuracy is never called evidence of decoding: identity alone can win those trials."""
    if not foil_kinds or not foil_kinds.get("per_kind"):
        return ""
    per_kind, effect, verdict = foil_kinds["per_kind"], foil_kinds["effect"], foil_kinds["claim"]
    sentences = [_kind_sentence(name, per_kind[name]) for name in ("different song", "same song") if name in per_kind]
    if "error" in effect and len(per_kind) == 2:
        sentences.append(f"The mixed logistic model with foil kind as a fixed effect gave {effect['error']}.")
    if "error" not in effect:
        low, high = effect["same_song_typical_ci"]
        sentences.append(
            f"In a mixed logistic model with foil kind as a fixed effect (listener and item random), a same-song "
            f"foil changed the log-odds of a correct answer by {effect['b1_same_song']:.2f} (SE {effect['b1_se']:.2f}, "
            f"{apa_p(effect['b1_p_two_sided'])}); a typical listener on a typical same-song item scored "
            f"{pct(effect['same_song_typical'])} [{pct(low)}, {pct(high)}], z = {effect['same_song_z']:.2f}, "
            f"one-sided {apa_p(effect['same_song_p_greater'])} against 50%.")
    different = per_kind.get("different song")
    if different:
        line = different.get("identity_line")
        given = (f"identity alone scores {pct(line['accuracy'])} on them" if line
                 else "no identity-only line is stored with this study")
        sentences.append(f"Different-song trials test song identity only ({given}): their accuracy is not "
                         "evidence that the music was decoded in time.")
    if verdict["decoding"]:
        sentences.append("The data support the claim that listeners recognised the music in time: same-song "
                         "trials were above 50%" + (" and above the identity-only line" if
                                                   verdict["identity_line_stored"] else "") + ".")
    elif "same song" in per_kind:
        sentences.append("The data do not support the claim that the music was decoded in time: same-song trials "
                         "were not above 50%" + (" and the identity-only line" if verdict["identity_line_stored"]
                                                  else "") + f" at α = {verdict['alpha']:g}. "
                         + ("They support only the claim that listeners recognised the song."
                            if verdict["song_identity"] else "Listeners did not recognise the song above chance either."))
    else:
        sentences.append("This study has no same-song trials, so it cannot show decoding in time; "
                         + ("it supports the claim that listeners recognised the song." if verdict["song_identity"]
                            else "listeners did not recognise the song above chance."))
    return " ".join(sentences)


def _kind_sentence(name: str, k: dict) -> str:
    """One kind's pooled accuracy, exact CI and tests, beside the ideal observer and identity-only lines."""
    text = (f"On {KIND_WORDS[name]} trials listeners were correct on {k['correct']} of {k['n']} "
            f"({pct(k['accuracy'])}, exact 95% CI [{pct(k['ci_low'])}, {pct(k['ci_high'])}]; one-sided exact "
            f"binomial against 50%, {apa_p(k['p_vs_chance'])}")
    if "identity_line" in k:
        text += f"; against the identity-only line of {pct(k['identity_line']['accuracy'])}, {apa_p(k['p_vs_identity'])}"
    text += ")"
    if "observer_line" in k:
        text += f"; the as-heard ideal observer scores {pct(k['observer_line']['accuracy'])} on these clips"
    return text + "."
