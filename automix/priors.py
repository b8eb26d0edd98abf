"""Starting settings from a style and the stems' roles: what an engineer would dial in first.

The predictor learns residuals on top of these, so an untrained (zero
initialised) predictor already gives these settings, and custom styles
steer the mix without retraining.

* Chains: the style's ``processing_chains`` (``stem`` merged with the
  role's own), every other parameter at its plugin default.
* Balance: ``role_balance_db[role]``, less ``10*log10(k)`` when ``k`` stems
  share a role, so a role split over several stems sums to its level.
* Pan, as an engineer builds the stereo image: the envelope's centre roles
  (kick, snare, bass, lead vocal) sit within ``centre_pan_max`` of the centre.
  Stems of any other role alternate left/right at ``role_pan[role]`` in name
  order, so two stems of a role (double-tracked guitars, a pair of backing
  vocals) are mirrored; a lone mono stem of such a role goes off centre too,
  to the side that balances what is already placed; a lone stereo stem keeps
  its own image in the centre. A side in the name (``OH L``, ``Gtr_Right``)
  wins. Shuffling the stems changes nothing (name order throughout).
* Width: ``role_width[role]``, at most the envelope's ``stem_width_max``; a
  stem with no side signal keeps 1.
* Every move is clamped into the style's envelope (EQ section gains, drive),
  so the priors alone are a mix an engineer signs.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

from automix.settings import MASTER_CHAIN, STEM_CHAIN, PluginSettings
from automix.styles import StyleTargets
from automix.plugins import get_plugin

_LEFT = re.compile(r"(?:^|[^a-z])(l|left|lft)(?:$|[^a-z])")
_RIGHT = re.compile(r"(?:^|[^a-z])(r|right|rgt)(?:$|[^a-z])")


def side_from_name(path: str) -> int:
    """-1 for a left-hinted name, +1 for right, 0 otherwise."""
    name = re.sub(r"[\d_\-. ]+", " ", Path(path).stem.lower())
    left, right = bool(_LEFT.search(name)), bool(_RIGHT.search(name))
    return -1 if left and not right else (1 if right and not left else 0)


def _chain(style: StyleTargets, slot: str, names: Sequence[str]) -> list[PluginSettings]:
    overrides = style.chain_defaults(slot)
    chain = []
    for name in names:
        params = get_plugin(name).defaults()
        params.update({k: float(v) for k, v in overrides.get(name, {}).items()})
        chain.append(PluginSettings(name, params))
    return chain


def _clamp(chain: list[PluginSettings], envelope) -> None:
    """Clamp the chain's EQ section gains, compressor and saturation drive into the envelope (in place)."""
    for p in chain:
        if p.plugin == "eq":
            for name in ("low_shelf_gain_db", "high_shelf_gain_db"):
                p.params[name] = min(max(p.params[name], -envelope.stem_shelf_max_abs_db), envelope.stem_shelf_max_abs_db)
            for k in (1, 2, 3):
                name = f"peak{k}_gain_db"
                p.params[name] = min(max(p.params[name], envelope.stem_eq_cut_min_db), envelope.stem_eq_boost_max_db)
        if p.plugin == "saturation":
            p.params["drive_db"] = min(p.params["drive_db"], envelope.stem_drive_max_db)
        if p.plugin == "compressor":
            p.params["threshold_db"] = max(p.params["threshold_db"], envelope.stem_comp_threshold_min_db)
            p.params["ratio"] = min(p.params["ratio"], envelope.stem_comp_ratio_max)


def stem_pans(style: StyleTargets, paths: Sequence[str], roles: Sequence[str],
              mono: Sequence[bool] | None = None) -> list[float]:
    """Each stem's pan (-1 left .. +1 right) from its role, its name and whether it is mono (see the module)."""
    envelope = style.envelope
    roles = list(roles)
    mono = list(mono) if mono is not None else [False] * len(paths)
    pans = [0.0] * len(paths)
    by_role: dict[str, list[int]] = {}
    for i, r in enumerate(roles):
        by_role.setdefault(r, []).append(i)
    lone: list[int] = []
    for role in sorted(by_role):
        group = sorted(by_role[role], key=lambda j: (Path(paths[j]).name.lower(), paths[j]))
        centred = role in envelope.centre_roles
        amount = float(style.role_pan.get(role, 0.0))
        limit = envelope.centre_pan_max if centred else 1.0
        amount = min(amount, limit)
        for rank, i in enumerate(group):
            side = side_from_name(paths[i])
            if side:
                pans[i] = side * min(max(amount, 0.5), limit)
            elif len(group) < 2 or (len(group) % 2 and rank == len(group) - 1):
                if amount > 0 and mono[i] and not centred:
                    lone.append(i)
            else:
                pans[i] = amount * (-1 if rank % 2 == 0 else 1)
    # lone mono stems of off-centre roles go to the side that balances the image placed so far: the louder
    # parts first, each weighed by its level in the role balance (power)
    power = [10 ** (role_level_db(style.role_balance_db, r, roles.count(r)) / 10) for r in roles]
    for i in sorted(lone, key=lambda j: (-power[j], roles[j], Path(paths[j]).name.lower(), paths[j])):
        amount = min(float(style.role_pan.get(roles[i], 0.0)), 1.0)
        lean = math.fsum(p * w for p, w in zip(pans, power))  # exact: no stem order can flip a side
        pans[i] = amount if lean < 0 else -amount
    return pans


def role_level_db(balance, role: str, count: int) -> float:
    """A stem's level (dB) from its role's in ``balance`` (role -> dB), split among the ``count`` stems of
    the role so that together they sum to the role's level."""
    return float(balance.get(role, 0.0) - 10 * math.log10(count))


def role_levels_db(balance, roles: Sequence[str]) -> list[float]:
    """Each stem's level (dB) from its role in ``balance``, split among the stems sharing the role."""
    roles = list(roles)
    return [role_level_db(balance, r, roles.count(r)) for r in roles]


def stem_priors(style: StyleTargets, paths: Sequence[str], roles: Sequence[str],
                mono: Sequence[bool] | None = None) -> list[list[PluginSettings]]:
    """One prior chain (``STEM_CHAIN`` order, engineering units) per stem.

    ``mono`` flags the stems with no side signal (:func:`automix.bounds.is_mono`); unknown (None) counts
    every stem as stereo.
    """
    by_role: dict[str, int] = {}
    for r in roles:
        by_role[r] = by_role.get(r, 0) + 1
    envelope = style.envelope
    pans = stem_pans(style, paths, roles, mono)
    out = []
    for i, role in enumerate(roles):
        chain = _chain(style, role, STEM_CHAIN)
        _clamp(chain, envelope)
        params = {p.plugin: p.params for p in chain}
        params["gain"]["gain_db"] = role_level_db(style.role_balance_db, role, by_role[role])
        params["pan"]["pan"] = pans[i]
        width = min(float(style.role_width.get(role, 1.0)), envelope.stem_width_max)
        params["stereo_width"]["width"] = 1.0 if (mono is not None and mono[i]) else width
        out.append(chain)
    return out


def master_prior(style: StyleTargets) -> list[PluginSettings]:
    """The master chain (``MASTER_CHAIN`` order) from the style; gain and ceiling are set by the master loop.

    The master ``saturation`` defaults to a pure tanh soft clipper (mix 1, drive 0 dB): the
    loudness loop pushes the gain into it, and the limiter catches what is left.
    """
    chain = _chain(style, "master", MASTER_CHAIN)
    given = style.chain_defaults("master").get("saturation", {})
    envelope = style.envelope
    for p in chain:
        if p.plugin == "eq":  # a mastering EQ moves a few dB at most
            for name in ("low_shelf_gain_db", "high_shelf_gain_db"):
                p.params[name] = min(max(p.params[name], -envelope.master_shelf_max_abs_db),
                                     envelope.master_shelf_max_abs_db)
            for k in (1, 2, 3):
                name = f"peak{k}_gain_db"
                p.params[name] = min(max(p.params[name], -envelope.master_peak_max_abs_db),
                                     envelope.master_peak_max_abs_db)
        if p.plugin == "stereo_width":
            p.params["width"] = min(max(p.params["width"], envelope.master_width_min), envelope.master_width_max)
        if p.plugin == "compressor":
            p.params["threshold_db"] = max(p.params["threshold_db"], envelope.master_comp_threshold_min_db)
            p.params["ratio"] = min(p.params["ratio"], envelope.master_comp_ratio_max)
        if p.plugin == "limiter":
            p.params["ceiling_db"] = float(style.true_peak_ceiling_dbtp)
        if p.plugin == "saturation":  # a soft clipper toward full scale unless the style says otherwise
            p.params.update({"drive_db": 0.0, "mix": 1.0, "trim_db": 0.0, **{k: float(v) for k, v in given.items()}})
    return chain
