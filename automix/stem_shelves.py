"""Stem high shelves share a tonal move the master EQ cannot make inside its envelope.

The master EQ may move its shelves only a few dB (``master_shelf_max_abs_db``). A bright
session under a dark style (a 2.4 kHz mix for an 1800 Hz R&B target) needs more than that, and an
engineer would then darken the sources, not push the master further. So when the master's own
match leaves the centroid out of reach, the tonal search runs once more with one more variable, a
high shelf at :data:`SHELF_HZ` shared by every stem (:func:`automix.tonal.match_tone`, ``stem_shelf``), and
:func:`apply_shelf_move` adds that gain to each stem's high shelf inside the stem's own
envelope: each shelf within ``+-stem_shelf_max_abs_db``, the EQ's net response within
``stem_eq_net_min_db..stem_eq_net_max_db`` and its fighting under ``stem_eq_fight_max_db``, all
with :data:`automix.bounds.EQ_MARGIN_DB` to spare. Where the whole move would make the EQ fight (the
predictor often leaves an EQ at its fighting limit), the sections that work against the move
(boosts, when it darkens) are scaled back just enough, as an engineer drops a move that the new
one contradicts; sections moving the same way stay. Only where the shelf itself has no room does
the stem take part of the move. The mixer then puts the stems back at their role levels, renders the bus
again and matches the master EQ on it.
"""
from __future__ import annotations

import statistics
from typing import Sequence

import numpy as np

from automix.envelope import net_grid_hz
from automix.inference import EQ_MARGIN_DB, eq_net_and_fight
from automix.settings import MixSettings
from automix.styles import StyleTargets

#: a shared shelf move smaller than this (dB) is not worth a second render
MIN_MOVE_DB = 0.5
#: the shared shelf's corner (Hz): a darker mix takes the edge off from the upper presence region up, where a
#: shelf at the predictor's usual 5-8 kHz corners leaves most of the 2-5 kHz magnitude the centroid counts
SHELF_HZ = 3000.0
_BISECTIONS = 20
#: the stem EQ sections other than the high shelf
_OTHER_GAINS = ("low_shelf_gain_db", "peak1_gain_db", "peak2_gain_db", "peak3_gain_db")


def shelf_range(style: StyleTargets) -> tuple[float, float]:
    """The shared move's range (dB): what a stem's shelf may span, inside the envelope."""
    limit = style.envelope.stem_shelf_max_abs_db - EQ_MARGIN_DB
    return -limit, limit


def _measures(eq: dict, sample_rate: int, grid: np.ndarray) -> tuple[float, float, float]:
    """(net min, net max, fighting) of a stem EQ, dB."""
    params = {k: np.array([float(v)]) for k, v in eq.items()}
    net, fight = eq_net_and_fight(params, grid, float(sample_rate))
    return float(net.min()), float(net.max()), float(fight[0])


def _caps(eq: dict, style: StyleTargets, sample_rate: int, grid: np.ndarray) -> tuple[float, float, float]:
    """The limits a moved EQ must keep: the envelope's with the margin to spare, or where the EQ already sits
    when the predictor left it closer than the margin (the move may not make it worse)."""
    env = style.envelope
    lo, hi, fight = _measures(eq, sample_rate, grid)
    return (min(env.stem_eq_net_min_db + EQ_MARGIN_DB, lo), max(env.stem_eq_net_max_db - EQ_MARGIN_DB, hi),
            max(env.stem_eq_fight_max_db - EQ_MARGIN_DB, fight))


def _fits(eq: dict, caps, style: StyleTargets, sample_rate: int, grid: np.ndarray) -> bool:
    lo, hi, fight = _measures(eq, sample_rate, grid)
    return (abs(eq["high_shelf_gain_db"]) <= style.envelope.stem_shelf_max_abs_db - EQ_MARGIN_DB
            and lo >= caps[0] and hi <= caps[1] and fight <= caps[2])


def apply_shelf_move(settings: MixSettings, move_db: float, style: StyleTargets) -> list[float]:
    """Add up to ``move_db`` to every stem's high shelf gain (in place), each as far as its envelope allows;
    the shelf's corner moves to :data:`SHELF_HZ`.

    Returns the move made per stem (dB), in stem order; 0 where the stem's EQ had no room.
    """
    made = []
    sr = settings.sample_rate
    grid = net_grid_hz(style.envelope)
    grid = grid[grid < sr / 2]
    for stem in settings.stems:
        eq = next((p.params for p in stem.chain if p.plugin == "eq"), None)
        if eq is None:
            made.append(0.0)
            continue
        start = dict(eq)
        caps = _caps(start, style, sr, grid)
        shelf_cap = style.envelope.stem_shelf_max_abs_db - EQ_MARGIN_DB

        def trial(share: float, keep: float) -> dict:
            """The move's ``share`` on the high shelf (at :data:`SHELF_HZ`); the other sections that work
            against it scaled by ``keep``."""
            out = {k: (v * keep if k in _OTHER_GAINS and v * move_db < 0 else v) for k, v in start.items()}
            # clamped: a move that fills the shelf's room exactly must not miss it by a float's last bit, which
            # would send the search down the "no room" branch and drop the other sections for nothing
            shelf = float(start["high_shelf_gain_db"]) + share * move_db
            out["high_shelf_gain_db"] = min(max(shelf, -shelf_cap), shelf_cap) if abs(
                float(start["high_shelf_gain_db"])) <= shelf_cap else shelf
            out["high_shelf_hz"] = SHELF_HZ
            return out

        def fits(e: dict) -> bool:
            return _fits(e, caps, style, sr, grid)

        # as much of the move as the shelf's own limit leaves room for; then giving up as little as needed of
        # the sections that work against it (boosts, for a darker shelf: where the predictor left the EQ at its
        # fighting limit, they would fight the new shelf); else less of the move
        room = style.envelope.stem_shelf_max_abs_db - EQ_MARGIN_DB - abs(float(start["high_shelf_gain_db"])) \
            if float(start["high_shelf_gain_db"]) * move_db > 0 else \
            style.envelope.stem_shelf_max_abs_db - EQ_MARGIN_DB + abs(float(start["high_shelf_gain_db"]))
        share = min(1.0, max(0.0, room) / abs(move_db))
        if share <= 0.0:
            chosen = start
        elif fits(trial(share, 1.0)):
            chosen = trial(share, 1.0)
        elif fits(trial(share, 0.0)):
            lo, hi = 0.0, 1.0
            for _ in range(_BISECTIONS):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if fits(trial(share, mid)) else (lo, mid)
            chosen = trial(share, lo)
        else:
            lo, hi = 0.0, share
            for _ in range(_BISECTIONS):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if fits(trial(mid, 0.0)) else (lo, mid)
            chosen = trial(lo, 0.0) if lo > 0 else start
        eq.update(chosen)
        made.append(float(chosen["high_shelf_gain_db"]) - float(start["high_shelf_gain_db"]))
    return made


def moves_summary(made: Sequence[float], wanted_db: float) -> dict:
    """What the report says about the shared move: wanted, median and range made (dB)."""
    return {"wanted_db": round(wanted_db, 2), "median_db": round(statistics.median(made), 2) if made else 0.0,
            "range_db": [round(min(made), 2), round(max(made), 2)] if made else [0.0, 0.0]}
