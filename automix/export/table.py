"""The settings as a table: one CSV row per stem and one for the master, for any DAW.

Columns: ``track``, ``file``, ``role`` (from the mix's report beside the settings, when there is one),
``input_gain_db``, then one column per processor parameter, named ``<plugin>.<parameter>`` with the unit in
the parameter's name (``eq.peak2_hz``, ``compressor.attack_ms``, ``gain.gain_db`` is a stem's fader and
the master's gain into its limiter). A processor that appears twice in a chain gets ``<plugin>#2``. A cell
is empty where a row has no such processor.
"""
from __future__ import annotations

import csv
import io
import os

from automix.export.common import report_beside, track_names
from automix.settings import MixSettings, PluginSettings


def roles_beside(settings_path: str | os.PathLike, count: int) -> list[str | None]:
    """The stems' roles from the mix's report beside the settings; ``None`` each when there is none."""
    stems = (report_beside(settings_path) or {}).get("stems") or []
    roles = [s.get("role") if isinstance(s, dict) else None for s in stems]
    return roles if len(roles) == count else [None] * count


def _cells(chain: list[PluginSettings]) -> dict[str, float]:
    cells, seen = {}, {}
    for stage in chain:
        seen[stage.plugin] = seen.get(stage.plugin, 0) + 1
        name = stage.plugin if seen[stage.plugin] == 1 else f"{stage.plugin}#{seen[stage.plugin]}"
        for k, v in stage.to_dict()["params"].items():
            cells[f"{name}.{k}"] = v
    return cells


def settings_table(settings: MixSettings, roles: list[str | None] | None = None) -> str:
    """The CSV text (header row first; RFC 4180 quoting, ``\\r\\n`` line ends as the csv module writes)."""
    roles = roles or [None] * len(settings.stems)
    rows = []
    for stem, name, role in zip(settings.stems, track_names(settings), roles):
        rows.append({"track": name, "file": os.path.basename(stem.path), "role": role or "",
                     "input_gain_db": round(stem.input_gain_db, 2), **_cells(stem.chain)})
    rows.append({"track": "Master", "file": "", "role": "master",
                 "input_gain_db": round(settings.master_input_gain_db, 2), **_cells(settings.master)})
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
