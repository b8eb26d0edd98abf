"""EQ: 12 dB/oct high-pass, low shelf, three peaks, high shelf. Twin: pedalboard IIR filters.

Stages, in order (all RBJ-cookbook designs as JUCE computes them)::

    HighpassFilter(highpass_hz) x 2          first order each -> 12 dB/oct, no resonance
    LowShelfFilter(low_shelf_hz, low_shelf_gain_db, q=1/sqrt 2)
    PeakFilter(peakN_hz, peakN_gain_db, peakN_q)   for N = 1, 2, 3
    HighShelfFilter(high_shelf_hz, high_shelf_gain_db, q=1/sqrt 2)

The shelf Q is fixed at 1/sqrt(2) (pedalboard's default): the steepest shelf
without overshoot, so a shelf move never adds a bump the predictor did not ask
for. Peaks and shelves at 0 dB are still run (JUCE's 0 dB section is not an
exact identity in float32, and the gain keeps a gradient there).

Parity: with float32 input the torch function reproduces pedalboard bit for
bit (null residual -inf dB) on platforms where :data:`automix.dsp.LIBM_EXACT`
holds: the coefficients are JUCE's float32 values (same libm ``sinf``/``cosf``/
``tanf``/``powf`` calls, same float32 operation order) and the filter runs in
JUCE's transposed direct form II order (:mod:`automix.kernels.iir`). Without
libm the transcendentals are float64-then-round and parity is about
-120 dB or better. Float64 input runs the exact float64 design instead: that
differs from pedalboard by pedalboard's own float32 round-off (about -70 dB at
the lowest shelf frequencies, better above). Known difference: JUCE zeroes
filter state below 1e-8 at block ends; this only touches near-silence.

Ranges: parity does not constrain them (it is exact everywhere), so they are
set for mixing: the peaks span 40 Hz - 16 kHz each so the predictor may place
any correction anywhere (defaults 250 Hz / 1 kHz / 4 kHz keep them apart);
shelf gains of +-18 dB and peak gains of +-15 dB allow the large tonal moves
the style presets ask for (spectral centroid from ~4 kHz down to ~2 kHz).
Cutoffs above ``fs/2 - 100`` Hz are clamped exactly as pedalboard clamps
shelves and peaks; the high-pass gets the same clamp in both engines.

Differentiable in ``x`` and every parameter (gradients from the float64
design via a straight-through estimator; see :func:`eq`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import JUCE_SHELF_Q, as_batch_param, juce_clamp_cutoff_f32, juce_iir_f32, juce_iir_torch
from automix.plugins.spec import ParamSpec, Plugin, _is_tensor, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(
    ParamSpec("highpass_hz", 10.0, 1000.0, 20.0, "log", "12 dB/oct high-pass cutoff (two first-order stages)"),
    ParamSpec("low_shelf_hz", 30.0, 1000.0, 120.0, "log", "low shelf corner (Q 1/sqrt 2)"),
    ParamSpec("low_shelf_gain_db", -18.0, 18.0, 0.0, "linear", "low shelf gain"),
    ParamSpec("peak1_hz", 40.0, 16000.0, 250.0, "log", "peak 1 centre"),
    ParamSpec("peak1_gain_db", -15.0, 15.0, 0.0, "linear", "peak 1 gain"),
    ParamSpec("peak1_q", 0.3, 6.0, 1.0, "log", "peak 1 Q (bandwidth)"),
    ParamSpec("peak2_hz", 40.0, 16000.0, 1000.0, "log", "peak 2 centre"),
    ParamSpec("peak2_gain_db", -15.0, 15.0, 0.0, "linear", "peak 2 gain"),
    ParamSpec("peak2_q", 0.3, 6.0, 1.0, "log", "peak 2 Q (bandwidth)"),
    ParamSpec("peak3_hz", 40.0, 16000.0, 4000.0, "log", "peak 3 centre"),
    ParamSpec("peak3_gain_db", -15.0, 15.0, 0.0, "linear", "peak 3 gain"),
    ParamSpec("peak3_q", 0.3, 6.0, 1.0, "log", "peak 3 Q (bandwidth)"),
    ParamSpec("high_shelf_hz", 1000.0, 16000.0, 8000.0, "log", "high shelf corner (Q 1/sqrt 2)"),
    ParamSpec("high_shelf_gain_db", -18.0, 18.0, 0.0, "linear", "high shelf gain"),
)


def _highpass_cutoff(highpass_hz, sample_rate):
    # pedalboard does not clamp HighpassFilter; both engines clamp it like the
    # shelves so a low session rate cannot put the pole past Nyquist.
    if _is_tensor(highpass_hz):
        return highpass_hz.clamp(0.01, sample_rate / 2.0 - 100.0)
    return float(juce_clamp_cutoff_f32(highpass_hz, sample_rate))


def _stages(p: dict) -> list[tuple]:
    """(kind, cutoff_hz, q, gain_db) per section, in processing order."""
    hp = p["highpass_hz"]
    return [
        ("highpass1", hp, None, None),
        ("highpass1", hp, None, None),
        ("low_shelf", p["low_shelf_hz"], JUCE_SHELF_Q, p["low_shelf_gain_db"]),
        ("peak", p["peak1_hz"], p["peak1_q"], p["peak1_gain_db"]),
        ("peak", p["peak2_hz"], p["peak2_q"], p["peak2_gain_db"]),
        ("peak", p["peak3_hz"], p["peak3_q"], p["peak3_gain_db"]),
        ("high_shelf", p["high_shelf_hz"], JUCE_SHELF_Q, p["high_shelf_gain_db"]),
    ]


def eq_sections(sample_rate, *, exact_f32: bool = True, **params) -> torch.Tensor:
    """The EQ's seven sections for a batch of settings.

    Args:
        sample_rate: in Hz.
        exact_f32: if True, the values are JUCE's float32 coefficients (held in
            float64) with gradients of the float64 design (straight-through:
            ``c64 + (c32 - c64).detach()``); if False, the float64 design itself.
        **params: every EQ parameter, floats or tensors of shape ``(batch,)``.

    Returns:
        float64 sections ``[b0, b1, b2, a1, a2]``.

    Shape: parameters ``(batch,)`` -> ``(batch, 7, 5)``.
    """
    import torch

    batch = max([v.shape[0] for v in params.values() if isinstance(v, torch.Tensor) and v.ndim] + [1])
    p = {k: as_batch_param(v, batch, dtype=torch.float64).to(torch.float64) for k, v in params.items()}
    p["highpass_hz"] = _highpass_cutoff(p["highpass_hz"], float(sample_rate))
    sections = []
    for kind, f, q, g in _stages(p):
        if q is None:
            q = torch.full_like(f, JUCE_SHELF_Q)
            g = torch.zeros_like(f)
        elif not isinstance(q, torch.Tensor):
            q = torch.full_like(f, q)
        c64 = juce_iir_torch(kind, sample_rate, f, q, g)
        if exact_f32:
            fv, qv, gv = (t.detach().cpu().numpy() for t in (f, q, g))
            c32 = np.stack([juce_iir_f32(kind, sample_rate, fv[i], qv[i], gv[i]) for i in range(batch)])
            c64 = c64 + (torch.from_numpy(c32.astype(np.float64)).to(c64.device) - c64).detach()
        sections.append(c64)
    return torch.stack(sections, dim=1)


def eq(
    x: torch.Tensor,
    sample_rate: int,
    *,
    highpass_hz,
    low_shelf_hz,
    low_shelf_gain_db,
    peak1_hz,
    peak1_gain_db,
    peak1_q,
    peak2_hz,
    peak2_gain_db,
    peak2_q,
    peak3_hz,
    peak3_gain_db,
    peak3_q,
    high_shelf_hz,
    high_shelf_gain_db,
) -> torch.Tensor:
    """Six-band EQ, JUCE-faithful (see the module docstring for stages and ranges).

    Frequencies in Hz, gains in dB, Q dimensionless. Each parameter is a float
    or a tensor of shape ``(batch,)``; the channels of a batch item share its
    settings. float32 input reproduces pedalboard bit for bit (JUCE's float32
    coefficients and operation order); float64 input runs the float64 design.
    Differentiable in ``x`` and every parameter: the forward uses the exact
    JUCE coefficients, the gradient is that of the float64 design, and the
    filter's backward is computed in float64.

    Shape: x ``(batch, channels, samples)`` -> same.
    """
    import torch

    from automix.kernels.iir import sosfilt

    params = dict(
        highpass_hz=highpass_hz, low_shelf_hz=low_shelf_hz, low_shelf_gain_db=low_shelf_gain_db,
        peak1_hz=peak1_hz, peak1_gain_db=peak1_gain_db, peak1_q=peak1_q,
        peak2_hz=peak2_hz, peak2_gain_db=peak2_gain_db, peak2_q=peak2_q,
        peak3_hz=peak3_hz, peak3_gain_db=peak3_gain_db, peak3_q=peak3_q,
        high_shelf_hz=high_shelf_hz, high_shelf_gain_db=high_shelf_gain_db,
    )
    batch = x.shape[0]
    params = {k: as_batch_param(v, batch, dtype=torch.float64) for k, v in params.items()}
    sos = eq_sections(sample_rate, exact_f32=x.dtype != torch.float64, **params)
    return sosfilt(x, sos.to(x.device))


def build(
    sample_rate: int,
    *,
    highpass_hz: float,
    low_shelf_hz: float,
    low_shelf_gain_db: float,
    peak1_hz: float,
    peak1_gain_db: float,
    peak1_q: float,
    peak2_hz: float,
    peak2_gain_db: float,
    peak2_q: float,
    peak3_hz: float,
    peak3_gain_db: float,
    peak3_q: float,
    high_shelf_hz: float,
    high_shelf_gain_db: float,
) -> list:
    """The production twin: pedalboard's seven filters, computed as one cascade.

    The sections are JUCE's float32 coefficients and run in JUCE's arithmetic, block end snapping
    included (:mod:`automix.kernels.cascade`), so the output is that of :func:`pedalboard_filters` bit
    for bit, in about a third of the time (the seven filters advance together instead of seven passes
    over each block). Where libm's float32 functions are not reachable (:data:`automix.dsp.LIBM_EXACT`
    false) the coefficients could differ in their last bit, and pedalboard's own filters run instead.
    """
    from automix.dsp import LIBM_EXACT

    params = dict(highpass_hz=highpass_hz, low_shelf_hz=low_shelf_hz, low_shelf_gain_db=low_shelf_gain_db,
                  peak1_hz=peak1_hz, peak1_gain_db=peak1_gain_db, peak1_q=peak1_q,
                  peak2_hz=peak2_hz, peak2_gain_db=peak2_gain_db, peak2_q=peak2_q,
                  peak3_hz=peak3_hz, peak3_gain_db=peak3_gain_db, peak3_q=peak3_q,
                  high_shelf_hz=high_shelf_hz, high_shelf_gain_db=high_shelf_gain_db)
    if not LIBM_EXACT:
        return pedalboard_filters(sample_rate, **params)
    from automix.kernels.cascade import Cascade

    return [Cascade("eq", eq_sos_f32(sample_rate, **params))]


def eq_sos_f32(sample_rate: int, **params) -> np.ndarray:
    """JUCE's float32 sections ``[b0, b1, b2, a1, a2]`` of the EQ's seven filters, in order. Shape ``(7, 5)``."""
    p = {k: float(v) for k, v in params.items()}
    p["highpass_hz"] = _highpass_cutoff(p["highpass_hz"], float(sample_rate))
    return np.stack([juce_iir_f32(kind, sample_rate, f, JUCE_SHELF_Q if q is None else q, 0.0 if g is None else g)
                     for kind, f, q, g in _stages(p)])


def pedalboard_filters(sample_rate: int, **params) -> list:
    """Pedalboard's seven filters for the EQ's settings (the reference the production cascade is tested on)."""
    import pedalboard  # here, not at import: the specs (styles, settings, CLI) load without it

    p = {k: float(v) for k, v in params.items()}
    hp = _highpass_cutoff(p["highpass_hz"], float(sample_rate))
    return [
        pedalboard.HighpassFilter(cutoff_frequency_hz=hp),
        pedalboard.HighpassFilter(cutoff_frequency_hz=hp),
        pedalboard.LowShelfFilter(cutoff_frequency_hz=p["low_shelf_hz"], gain_db=p["low_shelf_gain_db"], q=JUCE_SHELF_Q),
        pedalboard.PeakFilter(cutoff_frequency_hz=p["peak1_hz"], gain_db=p["peak1_gain_db"], q=p["peak1_q"]),
        pedalboard.PeakFilter(cutoff_frequency_hz=p["peak2_hz"], gain_db=p["peak2_gain_db"], q=p["peak2_q"]),
        pedalboard.PeakFilter(cutoff_frequency_hz=p["peak3_hz"], gain_db=p["peak3_gain_db"], q=p["peak3_q"]),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=p["high_shelf_hz"], gain_db=p["high_shelf_gain_db"],
                                   q=JUCE_SHELF_Q),
    ]


PLUGIN = Plugin(
    "eq", PARAMS, eq, build,
    doc="12 dB/oct high-pass, low shelf, 3 peaks, high shelf (pedalboard's IIR filters, bit-exact in float32).",
)
