"""The figures of one signal over a run's items, as a JSON-ready dict.

For a probability: accuracy, the reliability bins and ECE with equal-width and equal-mass
bins (their number stated, each ECE with its bootstrap interval), MCE, Brier score, AUROC,
average precision (AUPRC) and the selective-prediction curve, and temperature scaling
fitted on a fixed half of the items and reported on the other half. For a ranking score
(not a probability) only accuracy, AUROC, AUPRC and the selective curve: a calibration error
of something that is not a probability would be a number without a meaning.

It leaves out where the numbers come from (signals.py) and display.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from tokenprobe.calibration import metrics as m

DEFAULTS = {"n_bins": 10, "resamples": 1000, "level": 0.95, "seed": 0}


def signal_figures(confidence: list[float], correct: list[bool], probability: bool,
                   logits: list[list[float]] | None = None, labels: list[int] | None = None,
                   n_bins: int = 10, resamples: int = 1000, level: float = 0.95,
                   seed: int = 0) -> dict[str, Any]:
    """`logits` / `labels` (multiple choice: the options' scores at the run's T and the
    right option) are what temperature scaling rescales; without them a confidence p is
    scaled as the two-way choice [0, logit p] with label `correct`."""
    p = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    out: dict[str, Any] = {
        "n": len(p), "accuracy": m.accuracy(y), "auroc": m.auroc(p, y),
        "auprc": m.average_precision(p, y),
        "selective": [asdict(q) for q in m.selective_curve(p, y)],
    }
    if not probability or not len(p):
        return out
    for strategy in ("width", "mass"):
        bins = m.reliability(p, y, n_bins, strategy)
        out[f"ece_{strategy}"] = {
            "n_bins": n_bins, "value": m.ece_of_bins(bins), "mce": m.mce_of_bins(bins),
            "interval": m.ece_bootstrap(p, y, n_bins, strategy, resamples, level, seed),
            "bins": [asdict(b) for b in bins]}
    out["bootstrap"] = {"resamples": resamples, "level": level, "seed": seed}
    out["brier"] = m.brier(p, y)
    out["scaling"] = _scaling(p, y, logits, labels, n_bins, seed)
    return out


def _scaling(p: np.ndarray, y: np.ndarray, logits: list[list[float]] | None,
             labels: list[int] | None, n_bins: int, seed: int) -> dict[str, Any] | None:
    if len(p) < 4:
        return None
    if logits is not None and labels is not None:
        z, lab = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    else:
        z, lab = m.binary_logits(p), y.astype(np.int64)
    fit, held = m.split(len(p), seed)
    t = m.fit_temperature(z[fit], lab[fit])

    def on_held(temperature: float) -> dict[str, float | None]:
        probs = m.softmax(z[held], temperature)
        if logits is not None:
            conf = probs.max(axis=1)
            hit = (probs.argmax(axis=1) == lab[held]).astype(np.float64)
        else:
            conf, hit = probs[:, 1], y[held]
        bins = m.reliability(conf, hit, n_bins, "width")
        return {"ece_width": m.ece_of_bins(bins), "brier": m.brier(conf, hit),
                "nll": m.nll(z[held], lab[held], temperature)}

    return {"temperature": t, "fit_n": len(fit), "report_n": len(held), "seed": seed,
            "before": on_held(1.0), "after": on_held(t)}
