"""``--optimize N``: refine the predicted strips by gradient descent through the torch engine.

On an excerpt (the middle ``excerpt_s`` seconds of the session) the stem
strips' settings, as unit-interval logits, take ``N`` Adam steps on

    loss = (log(centroid / target) / log(1 + tol_c))^2
         + 0.5 * sum(((balance - target) / tol_b)^2)
         + ((ms - target) / tol_ms)^2
         + pull * ||u - u_predicted||^2

measured on the summed strips, trimmed to the bus reference level as the
mixer will trim them, through the master's compressor, EQ and width as predicted (held fixed; the master loop owns loudness and the
ceiling, so they are not in the loss). The pull keeps the settings near
what the predictor chose, so refinement nudges rather than redesigns.
Bool parameters are held fixed. The steps move the same residual logits the
predictor outputs, inside the same envelope boxes, so a refined strip never
leaves the engineer's envelope.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from automix.audio_io import StemReader, output_frames, probe
from automix.engines.torch_engine import apply_chain, render_stems, trim_bus
from automix.layout import STEM_SLOTS, flatten, to_torch_chain, unflatten
from automix.meters.differentiable import centroid_and_balance_torch, ms_ratio_torch
from automix.settings import MASTER_TONE_STAGES, STEM_CHAIN, MixSettings, StemSettings
from automix.styles import StyleTargets

PULL = 2.0


def _excerpt(settings: MixSettings, seconds: float) -> torch.Tensor:
    sr = settings.sample_rate
    infos = [probe(s.path) for s in settings.stems]
    total = max(output_frames(i, sr) for i in infos)
    n = min(total, int(seconds * sr))
    start = (total - n) // 2
    stems = []
    for info in infos:
        with StemReader(info, sr) as r:
            skipped = 0
            while skipped < start:
                step = min(65536, start - skipped)
                r.read(step)
                skipped += step
            stems.append(r.read(n))
    return torch.from_numpy(np.stack(stems))


def _progress_entry(entry: dict, style: StyleTargets, loss: float) -> dict:
    """One step as a progress report: the loss and each soft target's error."""
    want = style.frequency_balance.as_tuple()
    return {"step": entry["step"] + 1, "loss": round(loss, 5), "target_error": round(entry["target_error"], 5),
            "centroid_error_rel": round(entry["centroid_hz"] / style.spectral_centroid_hz - 1.0, 5),
            "ms_error": round(entry["ms_ratio"] - style.stereo_ms_ratio, 5),
            "balance_error": round(max((b - w for b, w in zip(entry["balance"], want)), key=abs), 5)}


def refine_settings(settings: MixSettings, style: StyleTargets, *, steps: int, priors: Sequence[Sequence],
                    mono: Sequence[bool], excerpt_s: float = 10.0, lr: float = 0.08,
                    progress=None) -> tuple[MixSettings, dict]:
    """Return refined settings and a summary (loss and soft-target errors before and after).

    ``progress(step, entry)``, if given, is told each step's loss and measures (the entries of the summary's
    history, with the relative centroid error, the M/S error and the largest band-balance error); returning
    ``False`` stops the refinement after that step (the settings of the steps taken are returned).

    ``priors`` are the stems' prior chains and ``mono`` their no-side-signal flags, as the predictor was
    given them: the steps move residual logits inside the same envelope boxes
    (:func:`automix.bounds.bounded_stems`), so no step can leave the envelope.
    """
    from automix.bounds import bounded_stems, make_bounds, stem_residual

    sr = settings.sample_rate
    x = _excerpt(settings, excerpt_s)
    start_u = torch.tensor([flatten(s.chain, STEM_SLOTS) for s in settings.stems], dtype=torch.float64)
    prior_u = torch.tensor([[flatten(c, STEM_SLOTS) for c in priors]], dtype=torch.float64)
    bounds = make_bounds([style.envelope], torch.tensor([list(mono)], dtype=torch.bool), prior_u, sr)
    mask = torch.ones(1, len(settings.stems), dtype=torch.bool)
    start_logit = stem_residual(start_u[None], prior_u, bounds)
    trainable = torch.tensor([s.spec.differentiable for s in STEM_SLOTS])
    delta = torch.zeros_like(start_logit, requires_grad=True)
    gains = torch.tensor([s.input_gain_db for s in settings.stems], dtype=torch.float64)
    target_b = torch.tensor(style.frequency_balance.as_tuple(), dtype=torch.float64)
    tol = style.tolerances

    # the master's tone-shaping stages as predicted (held fixed): the targets are the master's output
    master = [(p.plugin, dict(p.params)) for p in settings.master if p.plugin in MASTER_TONE_STAGES]

    def units():
        return bounded_stems(prior_u, start_logit + delta * trainable, bounds, mask)[0]

    def measure():
        u = units()
        chains = []
        for i in range(len(settings.stems)):
            chain = [(n, {k: v[0] for k, v in p.items()}) for n, p in to_torch_chain(u[i:i + 1], STEM_SLOTS, STEM_CHAIN)]
            chains.append([("gain", {"gain_db": gains[i]})] + chain)
        bus = apply_chain(trim_bus(render_stems(x, sr, chains)[None], sr), sr, master)
        c, b = (v[0] for v in centroid_and_balance_torch(bus, sr))
        ms = ms_ratio_torch(bus)[0]
        err = (torch.log(c.clamp_min(1.0) / style.spectral_centroid_hz) / math.log1p(tol.centroid_rel)) ** 2 \
            + 0.5 * (((b - target_b) / tol.balance_abs) ** 2).sum() \
            + ((ms - style.stereo_ms_ratio) / tol.ms_abs) ** 2
        return err, c, b, ms, u

    opt = torch.optim.Adam([delta], lr=lr)
    history = []
    for step in range(steps):
        opt.zero_grad()
        err, c, b, ms, u = measure()
        loss = err + PULL * ((u - start_u) ** 2).sum()
        loss.backward()
        history.append({"step": step, "target_error": float(err.detach()), "centroid_hz": float(c.detach()), "ms_ratio": float(ms.detach()),
                        "balance": [float(v) for v in b.detach()]})
        opt.step()
        if progress is not None and progress(step + 1, _progress_entry(history[-1], style, float(loss.detach()))) is False:
            break
    with torch.no_grad():
        err, c, b, ms, u = measure()
    history.append({"step": steps, "target_error": float(err), "centroid_hz": float(c), "ms_ratio": float(ms),
                    "balance": [float(v) for v in b]})
    refined = [StemSettings(s.path, unflatten(u[i], STEM_SLOTS, STEM_CHAIN), s.input_gain_db)
               for i, s in enumerate(settings.stems)]
    return MixSettings(sr, refined, settings.master, master_input_gain_db=settings.master_input_gain_db), {
        "steps": len(history) - 1, "excerpt_s": round(x.shape[-1] / sr, 2),
        "before": history[0], "after": history[-1],
    }
