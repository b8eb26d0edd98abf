"""Delivery specs: the loudness and peak rules a master is delivered to (streaming services, broadcast, CD).

The numbers live in ``specs.yaml`` beside this module, each with its public source; ``automix deliver --list``
shows them. :func:`styled` turns a style into the targets a spec asks for (its loudness, ceiling and
tolerance, the style's tone and envelope); :func:`spec_checks` says whether a measured master meets every
rule of a spec; :func:`playback` says what a service's loudness normalisation does to a master.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from automix.errors import UsageError

#: a single-value spec is met within automix's own loudness precision
SINGLE_VALUE_TOLERANCE_LU = 0.1
BITS = ("16", "24", "32f")


@dataclass(frozen=True)
class Platform:
    """How a service plays a master: it normalises to ``reference_lufs``; a quieter master is turned up only
    when ``turns_up``, and then only until its true peak reaches ``up_to_peak_dbtp`` unless it has a ``limiter``."""

    reference_lufs: float
    turns_up: bool
    up_to_peak_dbtp: float | None
    limiter: bool


@dataclass(frozen=True)
class DeliverySpec:
    """One delivery spec (see ``specs.yaml`` for the meaning of each field)."""

    name: str
    label: str
    lufs: float | None
    lufs_tolerance: float | None
    true_peak_dbtp: float | None
    short_term_max_lufs: float | None
    bits: str | None
    rate: int | None
    platform: Platform | None
    source: str

    @property
    def tolerance_lu(self) -> float:
        """The loudness tolerance the spec is judged by (LU)."""
        return self.lufs_tolerance if self.lufs_tolerance is not None else SINGLE_VALUE_TOLERANCE_LU

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["tolerance_lu"] = self.tolerance_lu
        return out


def _spec(name: str, raw: dict) -> DeliverySpec:
    fmt = raw.get("format") or {}
    plat = raw.get("platform")
    bits = None if fmt.get("bits") is None else str(fmt["bits"])
    if bits is not None and bits not in BITS:
        raise ValueError(f"delivery spec {name}: bits {bits!r} is not one of {BITS}")
    return DeliverySpec(
        name=name, label=raw["label"], lufs=raw.get("lufs"), lufs_tolerance=raw.get("lufs_tolerance"),
        true_peak_dbtp=raw.get("true_peak_dbtp"), short_term_max_lufs=raw.get("short_term_max_lufs"),
        bits=bits, rate=fmt.get("rate"),
        platform=None if plat is None else Platform(float(plat["reference_lufs"]), bool(plat["turns_up"]),
                                                    plat.get("up_to_peak_dbtp"), bool(plat.get("limiter", False))),
        source=raw["source"])


@lru_cache(maxsize=1)
def specs() -> dict[str, DeliverySpec]:
    """Every delivery spec, by name, in the file's order."""
    import yaml

    raw = yaml.safe_load((Path(__file__).with_name("specs.yaml")).read_text(encoding="utf-8"))
    return {name: _spec(name, body) for name, body in raw.items()}


def parse_specs(text: str | None) -> list[DeliverySpec]:
    """``"spotify,cd"`` -> the specs, in the order given; an unknown name is a usage error listing the valid
    ones (exit 2, before any work). ``None`` or empty: none."""
    if not text:
        return []
    known = specs()
    names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
    for n in names:
        if n not in known:
            raise UsageError(f"unknown delivery spec {n!r}; choose from {', '.join(known)} (automix deliver --list)")
    if len(set(names)) != len(names):
        raise UsageError(f"--deliver names a spec twice: {text}")
    return [known[n] for n in names]


def styled(style, spec: DeliverySpec):
    """``style`` with the spec's loudness, ceiling and tolerance (the style's where the spec sets none); the
    loudness tolerance the loop works to is the tighter of the two."""
    tol = style.tolerances
    lufs = spec.lufs if spec.lufs is not None else style.lufs
    lufs_tol = min(tol.lufs_lu, spec.tolerance_lu) if spec.lufs is not None else tol.lufs_lu
    return dataclasses.replace(
        style, lufs=lufs,
        true_peak_ceiling_dbtp=spec.true_peak_dbtp if spec.true_peak_dbtp is not None else style.true_peak_ceiling_dbtp,
        tolerances=dataclasses.replace(tol, lufs_lu=lufs_tol))


def spec_checks(spec: DeliverySpec, measured: dict, style) -> dict:
    """Each rule of ``spec`` against a master's meters: ``{rule: {"wanted", "measured", "pass"}}``; the
    loudness and ceiling the style supplies where the spec sets none."""
    lufs = spec.lufs if spec.lufs is not None else style.lufs
    ceiling = spec.true_peak_dbtp if spec.true_peak_dbtp is not None else style.true_peak_ceiling_dbtp
    tol = spec.tolerance_lu if spec.lufs is not None else style.tolerances.lufs_lu
    got_lufs, got_tp = measured["integrated_lufs"], measured["true_peak_dbtp"]
    checks = {
        "integrated_lufs": {"wanted": lufs, "tolerance": tol, "measured": got_lufs,
                            "pass": math.isfinite(got_lufs) and abs(got_lufs - lufs) <= tol + 1e-9},
        "true_peak_dbtp": {"wanted": ceiling, "measured": got_tp, "pass": got_tp <= ceiling + 1e-9},
    }
    if spec.short_term_max_lufs is not None:
        st = measured.get("short_term_max_lufs")
        checks["short_term_max_lufs"] = {"wanted": spec.short_term_max_lufs, "measured": st,
                                         "pass": st is not None and st <= spec.short_term_max_lufs + 1e-9}
    return checks


def playback(measured: dict, platform: Platform) -> dict:
    """What a service's loudness normalisation does to a master with these meters (integrated LUFS, true peak):
    the gain it applies (dB, negative = turned down), and whether turning it up stopped at the peaks."""
    lufs, tp = measured["integrated_lufs"], measured["true_peak_dbtp"]
    wanted = platform.reference_lufs - lufs
    out = {"reference_lufs": platform.reference_lufs, "wanted_gain_db": wanted, "gain_db": wanted,
           "capped_by_peaks": False, "limited": False}
    if wanted > 0:
        if not platform.turns_up:
            out["gain_db"] = 0.0
        elif platform.limiter:
            out["limited"] = platform.up_to_peak_dbtp is not None and tp + wanted > platform.up_to_peak_dbtp
        elif platform.up_to_peak_dbtp is not None and tp + wanted > platform.up_to_peak_dbtp:
            out["gain_db"] = max(0.0, platform.up_to_peak_dbtp - tp)
            out["capped_by_peaks"] = True
    out["plays_at_lufs"] = lufs + out["gain_db"]
    return out


def playback_report(measured: dict) -> list[dict]:
    """:func:`playback` on every service in the specs, for a report."""
    return [{"spec": s.name, "label": s.label, **playback(measured, s.platform)}
            for s in specs().values() if s.platform is not None]


def output_for(output: Path, spec: DeliverySpec, first: bool) -> Path:
    """Where a spec's master goes: the output itself for the first spec, ``OUT.<spec>.<ext>`` for the others."""
    return output if first else output.with_name(f"{output.stem}.{spec.name}{output.suffix}")


def plan(style, chosen: list[DeliverySpec], output: str | Path, *, bits: str | None = None, rate: int | None = None):
    """What a mix delivering ``chosen`` renders: ``(style of the output, its format, further masters)``.

    The output is mastered to the first spec (the style itself when none is chosen); each further spec gets
    ``OUT.<spec>.<ext>`` (:func:`output_for`) as ``(name, style, path, format)``. A spec's own word length and
    rate (the CD's 16 bit, 44.1 kHz) win over ``bits``/``rate``, which apply to the rest.
    """
    from automix.finish import OutputFormat

    def fmt(spec: DeliverySpec | None) -> OutputFormat:
        if spec is not None and spec.bits is not None:
            return OutputFormat(spec.bits, spec.rate)
        return OutputFormat(bits or "24", rate)

    output = Path(output)
    if not chosen:
        return style, fmt(None), []
    extras = [(s.name, styled(style, s), output_for(output, s, False), fmt(s)) for s in chosen[1:]]
    return styled(style, chosen[0]), fmt(chosen[0]), extras


def attach_report(report: dict, style, chosen: list[DeliverySpec]) -> dict:
    """Add ``delivery`` (each spec's master: output, format, meters, every rule checked, source) and
    ``playback`` (what each service's normalisation does to the output) to a mix report; a spec missed makes
    the report's status ``missed``. Returns the report."""
    report["playback"] = playback_report(report["final_meters"])
    codec = report.get("codec_check")
    if codec is not None and not codec["pass"]:
        report["status"] = "missed"  # a decode over the ceiling is a hard miss, as the master's own would be
    if not chosen:
        return report
    main = {"name": chosen[0].name, "output": report["output"], "format": report.get("format"),
            "meters": report["final_meters"]}
    if codec is not None:
        main["codec_check"] = codec
    masters = [main] + list(report.get("masters") or [])
    delivery = []
    for spec, m in zip(chosen, masters):
        checks = spec_checks(spec, m["meters"], style)
        if m.get("codec_check"):
            last = m["codec_check"]["passes"][-1]["decoded_true_peak_dbtp"]
            ceiling = checks["true_peak_dbtp"]["wanted"]
            for name, peak in last.items():
                checks[f"decoded_{name}_true_peak_dbtp"] = {"wanted": ceiling, "measured": peak,
                                                             "pass": peak <= ceiling + 1e-9}
        entry = {"spec": spec.name, "label": spec.label, "output": m["output"], "format": m["format"],
                 "integrated_lufs": m["meters"]["integrated_lufs"], "true_peak_dbtp": m["meters"]["true_peak_dbtp"],
                 "checks": checks, "pass": all(c["pass"] for c in checks.values()), "source": spec.source}
        for k in ("gain_db", "limiter_ceiling_db", "notes", "codec_check"):
            if k in m:
                entry[k] = m[k]
        if not entry["pass"]:
            missed = [k for k, c in checks.items() if not c["pass"]]
            codec_why = (m.get("codec_check") or {}).get("why")
            # the codec check explains its own misses: decodes over the ceiling, or a master it turned down
            codec_bound = all(k.startswith("decoded_") or k == "integrated_lufs" for k in missed)
            entry["why"] = codec_why if codec_why and codec_bound else _why_missed(missed, m)
        delivery.append(entry)
    report["delivery"] = delivery
    if not all(d["pass"] for d in delivery):
        report["status"] = "missed"
    return report


def _why_missed(missed: list[str], master: dict) -> str:
    notes = list(master.get("notes") or [])
    if "short_term_max_lufs" in missed and len(missed) == 1:
        return ("the short-term loudness peaks above the spec's ceiling at this integrated loudness: the material's "
                "loudness range is wider than the spec allows; compress the mix harder or choose a louder section "
                "balance")
    return "; ".join(notes) if notes else "the master loop ran out of passes; see the master's passes in the report"
