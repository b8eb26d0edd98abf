"""``automix mix``: resolve the style and stems, run the mixer, and say what happened in a few lines."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from automix.errors import SessionError, SettingsError
from automix.styles import get_style, load_style_targets


def sidecar_paths(output: str | Path) -> tuple[Path, Path]:
    """``mixed.wav`` -> (``mixed.settings.json``, ``mixed.report.json``)."""
    out = Path(output)
    return out.with_suffix(".settings.json"), out.with_suffix(".report.json")


def views_path(output: str | Path) -> Path:
    """``mixed.wav`` -> ``mixed.views.json`` (the curves the browser views draw, :mod:`automix.views`)."""
    return Path(output).with_suffix(".views.json")


def expand_folders(paths: Sequence[str], style: str) -> tuple[list[str], list[str]]:
    """Stem paths with each session folder replaced by its stems, and the lines to print.

    A folder's own audio files are its stems (subfolders ignored: an earlier mix written next to them stays
    out). A folder without any holds its stems the way ``automix batch`` finds them: in one nested folder
    (``Bounced Files/``), or in several session folders, which is an error that names ``automix batch``.
    Files pass unchanged.
    """
    from automix.audio_io import written_by_automix
    from automix.discovery import discover_sessions, is_audio_name

    stems, lines = [], []
    for p in paths:
        if not os.path.isdir(p):
            stems.append(p)
            continue
        own = sorted(e.path for e in os.scandir(p) if is_audio_name(e.name) and e.is_file())
        ours = [(q, why) for q in own if (why := written_by_automix(q))]
        own = [q for q in own if q not in dict(ours)]
        lines += [f"note: {q}: written by automix ({why}); not a stem" for q, why in ours]
        if own:
            stems += own
            lines.append(f"{p}: {len(own)} stems")
            continue
        found = discover_sessions(p)
        if not found.sessions:
            raise SessionError(f"{p}: no audio files in this folder or its subfolders; give a session folder "
                               "or stem files", code="E_EMPTY")
        if len(found.sessions) > 1:
            raise SettingsError(f"{p}: holds {len(found.sessions)} session folders, not one session; mix them "
                                f"all with `automix batch {p} --style {style} --out OUT_DIR`, or give one of them")
        session = found.sessions[0]
        stems += session.stems
        lines.append(f"{p}: {len(session.stems)} stems (in {session.folder})")
        lines += [f"warning: {w}" for w in session.warnings]
    return stems, lines


def _fmt(v, unit="", digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}{unit}"


def _gain_words(p: dict) -> str:
    """What a service's normalisation does, in a few words ("down 4.5 dB", "up 2.0 dB (peaks allow 1.2)")."""
    g = p["gain_db"]
    if abs(g) < 0.05 and p["wanted_gain_db"] <= 0.05:
        return "as is"
    if g <= 0 and p["wanted_gain_db"] > 0:
        return "not turned up"
    words = f"{'down' if g < 0 else 'up'} {abs(g):.1f} dB"
    if p["capped_by_peaks"]:
        words += f" (wanted +{p['wanted_gain_db']:.1f}, the peaks stop it)"
    return words


def delivery_lines(report: dict) -> list[str]:
    """One line per delivered master (every rule of its spec) and one of what the services do with the output."""
    lines = []
    ref = report.get("reference")
    if ref is not None:
        t = ref["targets"]
        lines.append(f"to the reference {Path(ref['path']).name}: loudness {t['integrated_lufs']['distance']:+.2f} LU, "
                     f"centroid {100 * t['spectral_centroid_hz']['distance_rel']:+.1f} %, M/S "
                     f"{t['ms_ratio']['distance']:+.3f}, band balance {t['band_balance']['distance']:.3f}, "
                     f"long-term spectrum {ref['spectrum']['distance_db']:.2f} dB (octave RMS, loudness-matched)")
        moves = [m for m in (report.get("reference_balance") or {}).get("moves_db", {}).values() if m]
        if moves:
            lines.append(f"faders moved toward its balance: {len(moves)} stems, {min(moves):+.1f} to "
                         f"{max(moves):+.1f} dB")
    codec = report.get("codec_check")
    if codec is not None and not report.get("delivery"):
        last = codec["passes"][-1]["decoded_true_peak_dbtp"]
        lines.append("decoded " + ", ".join(f"{k} {v:.2f} dBTP" for k, v in last.items())
                     + f" ({'pass' if codec['pass'] else 'MISS'}; headroom taken {codec['headroom_taken_db']:.2f} dB)")
    for d in report.get("delivery") or []:
        checks = "; ".join(f"{k} {c['measured']:.2f} ({'pass' if c['pass'] else 'MISS'})"
                           for k, c in d["checks"].items() if c["measured"] is not None)
        lines.append(f"delivered {d['label']}: {Path(d['output']).name}, {d['format']}: {checks}"
                     + (f"  ({d['why']})" if d.get("why") else ""))
    plays = report.get("playback") or []
    if plays:
        lines.append("played as: " + "; ".join(f"{p['label']} {_gain_words(p)}" for p in plays))
    return lines


def summary_lines(report: dict, verbose: bool) -> list[str]:
    t = report["targets"]
    # warnings first: a resampled or padded stem is what a user must not scroll past
    lines = [f"warning: {w}" for w in report["warnings"]]
    lines.append(f"{'target':<22} {'wanted':>12} {'pre-master':>11} {'final':>9}  result")

    def row(name, wanted, pre, final, ok, why=None, z=None):
        mark = "pass" if ok else ("MISS" if name in ("loudness (LUFS)", "true peak (dBTP)") else "miss")
        mark += f"  z {z:+.1f}" if isinstance(z, (int, float)) else ""  # a learned style: sds from its masters
        lines.append(f"{name:<22} {wanted:>12} {pre:>11} {final:>9}  {mark}" + (f"  ({why})" if why and verbose else ""))

    lu, tp = t["integrated_lufs"], t["true_peak_dbtp"]
    row("loudness (LUFS)", f"{lu['target']:.1f}±{lu['tolerance']:g}", _fmt(lu["pre_master"]), _fmt(lu["final"]), lu["pass"],
        lu.get("why"), lu.get("z"))
    row("true peak (dBTP)", f"<= {tp['ceiling']:.1f}", _fmt(tp["pre_master"]), _fmt(tp["final"]), tp["pass"])
    c = t["spectral_centroid_hz"]
    row("centroid (Hz)", f"{c['target']:.0f}±{c['tolerance_rel'] * 100:.0f}%", _fmt(c["pre_master"], digits=0),
        _fmt(c["final"], digits=0), c["pass"], c.get("why"), c.get("z"))
    m = t["ms_ratio"]
    row("M/S ratio", f"{m['target']:.2f}±{m['tolerance']:g}", _fmt(m["pre_master"]), _fmt(m["final"]), m["pass"], m.get("why"),
        m.get("z"))
    b = t["band_balance"]
    fmt3 = lambda d: "/".join(f"{d[k]:.2f}" for k in ("low", "mid", "high")) if d else "n/a"
    row("balance low/mid/high", fmt3(b["target"]), fmt3(b["pre_master"]), fmt3(b["final"]), b["pass"], b.get("why"))
    if all("moves" in s for s in report["stems"]):
        from automix.moves import table_lines

        lines += table_lines(report["stems"], report["master"] if "moves" in report["master"] else None)
    if verbose:
        lines.append("stems:")
        for s in report["stems"]:
            lines.append(f"  {Path(s['path']).name:<24} {s['role']:<10} ({s['role_source']}) gain {s['gain_db']:+.1f} dB, "
                         f"pan {s['pan']:+.2f}, {s['compressor']}")
        mst = report["master"]
        lines.append(f"master: gain {mst['gain_db']:+.2f} dB, ceiling {mst['limiter_ceiling_db']:.2f} dB, width "
                     f"{mst['width']:.2f}, EQ {mst['eq_moves_db']}, {len(mst['iterations'])} loop iterations")
    lines += delivery_lines(report)
    status = "all hard targets met" if report["status"] == "ok" else "HARD TARGET MISSED (see report)"
    lines.append(f"{status}; {report['timings']['total_s']:.1f} s")
    return lines


def finish_report(report: dict, style, specs, ref) -> dict:
    """The delivery checks and, with a reference, how close the mix came to it."""
    from automix.delivery import attach_report

    report = attach_report(report, style, specs)
    if ref is not None:
        from automix.reference import reference_report

        report["reference"] = reference_report(ref, report["output"], report["final_meters"])
    return report


def mix_command(stems: Sequence[str], *, style: str, targets: str | None, output: str, engine: str,
                optimize_steps: int, test_stems: int | None, threads: int, verbose: bool,
                progress=None, html: bool = True, print_stems: str | None = None, deliver: str | None = None,
                bits: str | None = None, rate: int | None = None,
                codec_check: str | None = None, reference: str | None = None) -> tuple[dict, list[str]]:
    """Library side of ``automix mix``; returns the report and the lines to print. ``progress(text)`` is told
    each stage (see :func:`~automix.mixer.mix_session`); ``html`` also writes the browser page
    (``OUT.report.html``, :mod:`automix.pages`); ``print_stems`` a folder that receives the printed stems
    (:mod:`automix.export.printing`, replacing earlier prints there as the mix replaces its output);
    ``deliver`` names delivery specs (``"spotify,cd"``, :mod:`automix.delivery`): the output meets the first,
    ``OUT.<spec>.<ext>`` each further one; ``bits``/``rate`` set the output's word length and rate;
    ``codec_check`` (``"mp3,aac"``, :mod:`automix.codecs`) writes each master's encodes beside it and masters
    again until every decode meets the ceiling; ``reference`` a finished track whose loudness, centroid, M/S
    and band balance become the targets (:mod:`automix.reference`; a delivery spec's loudness still wins)."""
    from automix.audio_io import check_output_format, probe

    check_output_format(output)  # before the style, the stems or any synthetic material
    from automix.delivery import parse_specs, plan
    from automix.finish import check_format

    from automix.codecs import parse_codecs

    specs = parse_specs(deliver)
    codecs = parse_codecs(codec_check)
    if print_stems is not None:
        from automix.export.common import ensure_folder

        ensure_folder(print_stems, create=False)
    chosen = get_style(style, load_style_targets(targets) if targets else None)
    ref = None
    if reference is not None:
        from automix.reference import measure_reference, styled_from_reference

        ref = measure_reference(reference)
        chosen = styled_from_reference(chosen, ref)
    out = Path(output)
    main_style, main_format, extras = plan(chosen, specs, out, bits=bits, rate=rate)
    check_format(out, main_format)
    for _, _, path, fmt in extras:
        check_output_format(path)
        check_format(path, fmt)
    stems, lines = expand_folders(stems, style)
    if test_stems:
        if stems:
            raise SettingsError("give either --stems or --test-stems, not both")
        from automix.sessiongen import write_test_stems

        folder = out.with_name(out.stem + ".test-stems")
        stems = [str(p) for p in write_test_stems(folder, test_stems)]
        lines.append(f"wrote {len(stems)} synthetic stems to {folder}")
    if not stems:
        raise SettingsError("no stems given; use --stems A.wav B.wav ... or --test-stems N")
    for p in stems:  # a missing or unreadable stem answered at once, before the engine (torch) is loaded
        probe(p)
    records = None
    if threads > 1:  # the settings file's stem hashes, on a core the imports below leave idle
        from automix.provenance import records_beside

        records = records_beside(stems)
    from automix.mixer import mix_session

    settings_path, report_path = sidecar_paths(out)
    report = mix_session(stems, style=main_style, output=out, settings_out=settings_path, report_out=report_path,
                         views_out=views_path(out),
                         engine=engine, optimize_steps=optimize_steps, threads=threads, progress=progress,
                         out_format=main_format, extra_masters=extras, codecs=codecs,
                         spectrum_reference=ref.octave_db if ref is not None else None,
                         report_hook=lambda r: finish_report(r, chosen, specs, ref), stem_records=records)
    written = [out.name] + [Path(p).name for _, _, p, _ in extras] + [settings_path.name, report_path.name,
                                                                       views_path(out).name]
    written += [Path(f).name for m in [report] + list(report.get("masters") or [])
                for f in (m.get("codec_check") or {}).get("files", [])]
    if html:
        from automix.pages import write_session_html

        written.append(Path(write_session_html(report_path)).name)
    lines.append(f"wrote {', '.join(written)} in {out.resolve().parent} ({chosen.name}, {engine} engine)")
    if print_stems is not None:
        from automix.export import export

        if progress:
            progress("printing the stems")
        files = export("stems", settings_path, print_stems, force=True, threads=threads)
        lines.append(f"printed {len(files) - 2} stems, premaster.wav and master.wav to {print_stems}")
    return report, lines + summary_lines(report, verbose)
