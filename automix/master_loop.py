"""The closed master loop: adjust only the master until loudness and true peak are inside tolerance.

The stems are rendered and summed once (the pre-master bus, kept as a
float32 temp file so memory stays bounded). Each iteration streams the bus
through the master chain, meters the result (BS.1770 integrated loudness,
4x true peak, centroid, M/S) and corrects:

* loudness: the master ``gain`` (into the soft clipper and limiter) moves by the loudness
  error; from the second step on by a secant estimate of the gain-to-LUFS
  slope (the limiter makes it < 1 dB/dB when pushed);
* true peak: if the 4x meter reads above the style ceiling, the limiter
  ceiling drops by the overshoot plus a small margin;
* width: the master ``stereo_width`` is scaled by target/measured M/S (the
  ratio scales linearly with the side gain) until it is inside tolerance or
  at the end of its range.

The gain search runs on search passes: the renderer renders the chain as set
over a quarter of the song (segments spread over it, :mod:`automix.search_subset`)
and reports the loudness and M/S the whole would have, and the segments' true
peak (an over there lowers the ceiling at once). Once a search pass lands
within half the tolerance, or a secant step from close by will very likely
land inside it, a final pass renders the whole, meters everything (4x true
peak, spectrum) and writes the candidate; a final pass that misses re-measures
the search's calibration and the search goes on from it. The loop stops when a
final pass meets loudness and the ceiling, or after ``max_iterations``, and
always ends on a final pass: the file delivered is exactly the one measured,
and a miss is reported, never hidden.

With a :class:`BusModel` of the signal entering the master's width stage
(K-weighted mid and side energies per 400 ms block, metered once), the width
is set before the first pass from the exact M/S of that signal, the first
gain guess includes the width's effect on loudness, and a later width move
shifts the secant's history by its exact effect on the pre-limiter loudness
(instead of mixing two different gain-to-loudness curves).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from automix.meters.loudness import gated_integrated
from automix.meters.spectral import ms_ratio as _ms_ratio
from automix.settings import PluginSettings
from automix.plugins import get_plugin

#: the 4x-metered output of BrickwallLimiter can sit up to ~0.02 dB over its ceiling (measured, pedalboard 0.9.26)
LIMITER_MARGIN_DB = 0.05
#: within this loudness error (LU) a secant step is taken as a final (written, fully metered) pass: a search pass
#: costs about a quarter of a final one, so only a step that very likely lands is worth a final pass
SPECULATE_LU = 0.15
#: a search pass aims at this fraction of the loudness tolerance before the final pass: a search pass
#: estimates the whole song's loudness from a quarter of it (within about 0.06 LU on the bench_search songs),
#: and a delivered file should not sit on the edge of its tolerance
AIM_FRACTION = 0.3


@dataclass
class BusModel:
    """The signal entering the master's ``stereo_width`` stage, enough to predict loudness and M/S at any width.

    Width scales the side: ``L = M + w S``, ``R = M - w S``. K-weighting is linear, so the
    channel-summed K-weighted energy of every gating block is ``E_M + w^2 E_S`` exactly, with
    ``E_M``, ``E_S`` the dual-mono block energies of the mid and side signals; the gated
    integrated loudness follows (BS.1770, the meters' own gating).

    Attributes:
        mid_energy, side_energy: mean square per 400 ms gating block ``(n_blocks,)``, dual-mono weighted.
        mid_sq, side_sq: sums of squares of ``M = (L + R) / 2`` and ``S = (L - R) / 2``.
    """

    mid_energy: np.ndarray
    side_energy: np.ndarray
    mid_sq: float
    side_sq: float

    def lufs(self, width: float) -> float:
        """Integrated loudness (LUFS) after a width stage of ``width``."""
        return gated_integrated(self.mid_energy + (width * width) * self.side_energy)

    def ms_ratio(self, width: float) -> float:
        """``RMS(S) / RMS(M)`` after a width stage of ``width``."""
        return _ms_ratio(width * width * self.side_sq, self.mid_sq)


@dataclass
class Iteration:
    """One pass of the loop: the chain's gain (dB), ceiling (dB) and width, and what the pass measured."""

    gain_db: float
    ceiling_db: float
    width: float
    lufs: float
    true_peak_dbtp: float
    ms_ratio: float
    #: a final pass (the whole song rendered, metered, written) or a search pass (its loudness and M/S estimated)
    final: bool = True
    #: a search pass's true peak over its segments (dBTP): a lower bound of the whole's
    segments_true_peak_dbtp: float = math.nan

    def to_dict(self) -> dict:
        out = {k: round(v, 4) if math.isfinite(v) else None for k, v in self.__dict__.items() if k != "final"}
        out["final"] = self.final
        return out


@dataclass
class LoopResult:
    chain: list[PluginSettings]
    measured: dict
    iterations: list[Iteration] = field(default_factory=list)
    converged: bool = False
    notes: list[str] = field(default_factory=list)


def _param(chain, plugin: str, name: str) -> float:
    return next(p.params[name] for p in chain if p.plugin == plugin)


def _set(chain, plugin: str, name: str, value: float) -> None:
    spec = get_plugin(plugin).spec(name)
    next(p for p in chain if p.plugin == plugin).params[name] = float(np.clip(value, spec.minimum, spec.maximum))


def limiter_loss_db(result: LoopResult, bus: BusModel, target_lufs: float) -> float | None:
    """The loudness the limiter took in a finished loop: its final gain minus the gain the bus model alone
    asks for at its width (dB); ``None`` when the loop did not converge."""
    if not result.converged:
        return None
    width = _param(result.chain, "stereo_width", "width")
    return _param(result.chain, "gain", "gain_db") - (target_lufs - bus.lufs(width))


def run(render: Callable[[list[PluginSettings], bool], dict], chain: list[PluginSettings], *,
        target_lufs: float, ceiling_dbtp: float, lufs_tolerance: float, target_ms: float | None,
        ms_tolerance: float, bus_lufs: float | None = None, bus: BusModel | None = None,
        max_iterations: int = 8, width_range: tuple[float, float] | None = None,
        max_ms: float | None = None, limiter_loss_db: float | None = None,
        limiter_margin_db: float = LIMITER_MARGIN_DB, search_first: bool = False) -> LoopResult:
    """Iterate the master chain.

    Args:
        render: ``render(chain, final)`` streams the bus through ``chain`` and returns the output's
            meters. A search pass (``final=False``) returns the loudness and M/S the output would
            have (the mixer's renderer estimates them from segments of the song) and may return
            ``estimated_true_peak_dbtp``, a lower bound of the output's true peak; it writes
            nothing. A final pass meters everything (4x true peak, spectrum) and keeps the output
            as the deliverable candidate. The loop always ends on a final pass.
        chain: master chain (``MASTER_CHAIN`` order) to start from; modified copies are returned.
        bus_lufs: integrated loudness of the signal entering the master gain, for the first guess.
        bus: the signal entering the width stage (see :class:`BusModel`); when given it replaces
            ``bus_lufs``, sets the starting width (if ``target_ms``) and keeps the gain search
            consistent across width moves.
        width_range: the master width's ``(min, max)`` (the engineer's envelope); default the plugin's range.
        max_ms: the largest M/S ratio the width may make (the envelope's mono fold-down limit): width scales
            the side exactly, so the cap is ``max_ms / (M/S at width 1)``.
        limiter_loss_db: how much loudness the limiter took on a render of a similar bus (the final gain
            minus what the bus model asked for, see :func:`limiter_loss_db`): the first guess adds it and
            the first pass is a final one (the studio, where an edit changes the bus a little). A first pass
            that misses is one more point for the search.
        limiter_margin_db: how far under the style's ceiling the limiter starts (dB). The studio passes 0: its
            chains already carry the margin from the mix (or the engineer's own ceiling), and re-rendering an
            edit must not lower the ceiling again each time.
        search_first: start on a search pass even with ``limiter_loss_db`` (then only a better first guess): for
            a loss carried over from a different master, which may be off by more than the tolerance.
    """
    chain = [PluginSettings(p.plugin, dict(p.params)) for p in chain]
    result = LoopResult(chain, {})
    gain_spec = get_plugin("gain").spec("gain_db")
    width_spec = get_plugin("stereo_width").spec("width")
    w_lo, w_hi = width_range if width_range is not None else (width_spec.minimum, width_spec.maximum)

    def allowed(width: float, ms_at_width: float, current: float) -> float:
        """``width`` inside the envelope's range and under the fold-down cap (M/S ``ms_at_width`` at ``current``)."""
        hi = w_hi
        if max_ms is not None and ms_at_width > 1e-9 and math.isfinite(ms_at_width):
            hi = min(hi, current * max_ms / ms_at_width)
        return float(min(max(width, w_lo), max(hi, w_lo)))

    if bus is not None:
        ms_in = bus.ms_ratio(1.0)
        if target_ms is not None and ms_in > 1e-6 and math.isfinite(ms_in):
            _set(chain, "stereo_width", "width", allowed(target_ms / ms_in, ms_in, 1.0))
        bus_lufs = bus.lufs(_param(chain, "stereo_width", "width"))
    if bus_lufs is not None and math.isfinite(bus_lufs):
        _set(chain, "gain", "gain_db", target_lufs - bus_lufs + (limiter_loss_db or 0.0))
    _set(chain, "limiter", "ceiling_db", min(_param(chain, "limiter", "ceiling_db"), ceiling_dbtp) - limiter_margin_db)
    _set(chain, "limiter", "true_peak", 1.0)
    # (gain_db, LUFS) on the current gain-to-loudness curve
    history: list[tuple[float, float]] = []
    final = limiter_loss_db is not None and bus_lufs is not None and math.isfinite(bus_lufs) and not search_first
    for _ in range(max_iterations):
        measured = render(chain, final)
        it = Iteration(_param(chain, "gain", "gain_db"), _param(chain, "limiter", "ceiling_db"),
                       _param(chain, "stereo_width", "width"), measured["integrated_lufs"],
                       measured["true_peak_dbtp"] if final else math.nan, measured["ms_ratio"], final=final,
                       segments_true_peak_dbtp=math.nan if final else measured.get("estimated_true_peak_dbtp", math.nan))
        result.iterations.append(it)
        if not math.isfinite(it.lufs):
            result.notes.append("the mix is silent; loudness cannot be set")
            break
        error = abs(it.lufs - target_lufs)
        loud_ok = error <= lufs_tolerance  # accepted on a final pass
        aimed = error <= AIM_FRACTION * lufs_tolerance  # what a search pass settles for
        if final and not loud_ok:
            # the search's estimate was off at this gain: the renderer re-measured it here, and the search
            # continues from this point on the curve the final pass measured
            history = []
        history.append((it.gain_db, it.lufs))
        changed = False
        width_shift = None  # the width move's effect on the pre-limiter loudness (dB), if known
        if target_ms is not None and it.ms_ratio > 1e-6 and abs(it.ms_ratio - target_ms) > ms_tolerance:
            wanted = allowed(it.width * target_ms / it.ms_ratio, it.ms_ratio, it.width)
            if abs(wanted - it.width) > 1e-6:  # pinned at the end of its range: nothing more to do
                _set(chain, "stereo_width", "width", wanted)
                changed = True
                if bus is not None:
                    width_shift = bus.lufs(wanted) - bus.lufs(it.width)
                # the loudness curve moved: carry what was learnt over by the width's exact effect on
                # the level into the limiter, or forget it
                if width_shift is not None and math.isfinite(width_shift):
                    history = [(g - width_shift, lufs) for g, lufs in history]
                else:
                    width_shift = None
                    history = []
        # the true peak: measured on a final pass; a search pass's (over its segments) is a lower bound of the
        # whole's, so an over there is an over of the whole too
        peak = it.true_peak_dbtp if final else it.segments_true_peak_dbtp
        if peak > ceiling_dbtp:
            _set(chain, "limiter", "ceiling_db", it.ceiling_db - (peak - ceiling_dbtp) - LIMITER_MARGIN_DB)
            changed = True
        if final:
            result.measured = measured
            if loud_ok and not changed:
                result.converged = True
                return result
        secant = False
        if history and (not (loud_ok if final else aimed) or width_shift is not None):
            slope = 1.0
            if len(history) >= 2:
                (g0, l0), (g1, l1) = history[-2], history[-1]
                if abs(g1 - g0) > 1e-3:
                    slope = float(np.clip((l1 - l0) / (g1 - g0), 0.2, 1.5))
                    secant = True
            g_last, l_last = history[-1]
            new_gain = g_last + (target_lufs - l_last) / slope
            if new_gain > gain_spec.maximum and it.gain_db >= gain_spec.maximum - 1e-9:
                result.notes.append(f"master gain is at its maximum ({gain_spec.maximum:g} dB); the target "
                                    "loudness is out of reach for this material")
                break
            _set(chain, "gain", "gain_db", new_gain)
        # a final pass once a search pass landed with nothing left to change, or when a step from close by (any
        # step from within the tolerance, a secant step from within SPECULATE_LU) will very likely land inside
        # the tolerance (a miss is one more point for the search); after any other change (gain from afar,
        # width, ceiling) a search pass looks first
        final = not changed and (aimed or loud_ok or (secant and error <= SPECULATE_LU))
    if not result.measured or not result.iterations[-1].final:
        measured = render(chain, True)  # the loop always ends on a measured, written candidate
        result.measured = measured
        result.iterations.append(Iteration(_param(chain, "gain", "gain_db"), _param(chain, "limiter", "ceiling_db"),
                                           _param(chain, "stereo_width", "width"), measured["integrated_lufs"],
                                           measured["true_peak_dbtp"], measured["ms_ratio"]))
    return result
