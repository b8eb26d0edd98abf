"""Starting settings from a style and the stems' roles: what an engineer would dial in first.

The predictor learns residuals on top of these, so an untrained (zero
initialised) predictor already gives these settings, and custom styles
steer the mix without retraining.

* Chains: the style's ``processing_chains`` (``stem`` merged with the
  role's own), every other parameter at its plugin default.
* Balance: ``role_balance_db[role]``, less ``10*log10(k)`` when ``k`` stems
  share a role, so a role split over several stems sums to its level.
* Pan: stems of a role alternate left/right at ``role_pan[role]`` in name
  order (so shuffling stems changes nothing); a single stem of a role sits
  in the centre; a side in the name (``OH L``, ``Gtr_Right``) wins.
* Width: ``role_width[role]``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

from automix.settings import MASTER_CHAIN, STEM_CHAIN, PluginSettings
from automix.styles import StyleTargets
from plugins import get_plugin

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


def stem_priors(style: StyleTargets, paths: Sequence[str], roles: Sequence[str]) -> list[list[PluginSettings]]:
    """One prior chain (``STEM_CHAIN`` order, engineering units) per stem."""
    by_role: dict[str, list[int]] = {}
    for i, r in enumerate(roles):
        by_role.setdefault(r, []).append(i)
    out = []
    for i, (path, role) in enumerate(zip(paths, roles)):
        chain = _chain(style, role, STEM_CHAIN)
        params = {p.plugin: p.params for p in chain}
        group = sorted(by_role[role], key=lambda j: (Path(paths[j]).name.lower(), paths[j]))
        params["gain"]["gain_db"] = float(style.role_balance_db.get(role, 0.0) - 10 * math.log10(len(group)))
        amount = float(style.role_pan.get(role, 0.0))
        side = side_from_name(path)
        if side:
            pan = side * max(amount, 0.5)
        elif len(group) < 2:
            pan = 0.0
        else:
            rank = group.index(i)
            pan = 0.0 if (len(group) % 2 and rank == len(group) - 1) else amount * (-1 if rank % 2 == 0 else 1)
        params["pan"]["pan"] = pan
        params["stereo_width"]["width"] = float(style.role_width.get(role, 1.0))
        out.append(chain)
    return out


def master_prior(style: StyleTargets) -> list[PluginSettings]:
    """The master chain (``MASTER_CHAIN`` order) from the style; gain and ceiling are set by the master loop.

    The master ``saturation`` defaults to a pure tanh soft clipper (mix 1, drive 0 dB): the
    loudness loop pushes the gain into it, and the limiter catches what is left.
    """
    chain = _chain(style, "master", MASTER_CHAIN)
    given = style.chain_defaults("master").get("saturation", {})
    for p in chain:
        if p.plugin == "limiter":
            p.params["ceiling_db"] = float(style.true_peak_ceiling_dbtp)
        if p.plugin == "saturation":  # a soft clipper toward full scale unless the style says otherwise
            p.params.update({"drive_db": 0.0, "mix": 1.0, "trim_db": 0.0, **{k: float(v) for k, v in given.items()}})
    return chain
