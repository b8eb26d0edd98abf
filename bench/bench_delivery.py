"""Delivery: every spec on held-out sessions, an album, and mixing toward a reference against matchering.

Run: ``python bench/bench_delivery.py [--sessions 24] [--seconds 30] [--album 12] [--only reference]`` (the reference part needs
``pip install matchering``; it is skipped, and says so, without it). Three parts, every number measured here
from the written files, not taken from automix's reports:

1. ``automix batch --deliver <every spec> --codec-check mp3,aac`` on ``--sessions`` held-out generated sessions
   (rock_punk): per spec, how many masters are within the spec's loudness tolerance and at or under its
   true-peak ceiling in the file (after dither for the 16-bit CD master), and how many decoded MP3 and AAC
   encodes are at or under it;
2. ``automix batch --album`` on ``--album`` held-out sessions: each track's loudness offset from the album's
   loudest intended track against the intended offset (target: within 0.5 LU);
3. references: each session mixed with ``--reference`` (the reference: another held-out session mixed to
   rnb_ballad, a different style), against matchering 2.0 fed the stems' equal-loudness sum and the same
   reference (matchering's own limiter on, its default): loudness error, true peak (ceiling -1 dBTP), centroid
   error, M/S error, and the octave-band spectrum distance after loudness matching
   (:func:`automix.reference.spectrum_distance_db`), medians and worst cases.

Writes ``bench/results/delivery.md``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import contention_note, contention_probe, write_table  # noqa: E402

CODECS = ("mp3", "aac")


def _meters(path: Path) -> tuple[dict, np.ndarray, int]:
    import soundfile as sf

    from automix.meters import analyze

    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return analyze(x.T, sr), x.T, sr


def part_specs(root: Path, sessions: int, seconds: float) -> list[list]:
    from automix.batch.runner import run_batch
    from automix.codecs import CODECS as ALL, decoded_true_peak, encoded_path
    from automix.delivery import output_for, specs
    from automix.sessiongen import write_sessions
    from automix.styles import get_style

    write_sessions(root / "in", sessions, held_out=True, duration_s=seconds)
    chosen = list(specs().values())
    t0 = time.perf_counter()
    run_batch(root / "in", root / "out", style="rock_punk", jobs=2, handle_signals=False, html=False,
              deliver=",".join(s.name for s in chosen), codec_check=",".join(CODECS))
    batch_s = time.perf_counter() - t0
    style = get_style("rock_punk")
    rows = []
    for i, spec in enumerate(chosen):
        loud_ok = tp_ok = codec_ok = total = 0
        worst_tp = worst_codec = -np.inf
        for folder in sorted((root / "out").glob("heldout-*")):
            path = output_for(folder / "mix.wav", spec, i == 0)
            if not path.is_file():
                continue
            total += 1
            m, _, _ = _meters(path)
            lufs = spec.lufs if spec.lufs is not None else style.lufs
            ceiling = spec.true_peak_dbtp if spec.true_peak_dbtp is not None else style.true_peak_ceiling_dbtp
            loud_ok += abs(m["integrated_lufs"] - lufs) <= spec.tolerance_lu + 1e-9
            tp_ok += m["true_peak_dbtp"] <= ceiling + 1e-9
            worst_tp = max(worst_tp, m["true_peak_dbtp"] - ceiling)
            peaks = [decoded_true_peak(encoded_path(path, ALL[c])) for c in CODECS]
            codec_ok += max(peaks) <= ceiling + 1e-9
            worst_codec = max(worst_codec, max(peaks) - ceiling)
        rows.append([spec.name, f"{loud_ok}/{total}", f"{tp_ok}/{total}", f"{worst_tp:+.2f}", f"{codec_ok}/{total}",
                     f"{worst_codec:+.2f}"])
    rows.append([f"(batch of {sessions} x {seconds:g} s, every spec and both codecs, 2 jobs)", "", "", "", "",
                 f"{batch_s:.0f} s"])
    return rows


def part_album(root: Path, count: int, seconds: float) -> list[list]:
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    write_sessions(root / "album_in", count, held_out=True, duration_s=seconds)
    run_batch(root / "album_in", root / "album_out", style="rock_punk", jobs=2, handle_signals=False, html=False,
              album=True)
    info = json.loads((root / "album_out" / "summary.json").read_text())["album"]
    tracks = info["tracks"]
    finals = {t["session"]: _meters(root / "album_out" / t["session"] / "mix.wav")[0]["integrated_lufs"]
              for t in tracks}
    top = max(tracks, key=lambda t: t["offset_lu"])
    errors = [abs((finals[t["session"]] - finals[top["session"]]) - (t["offset_lu"] - top["offset_lu"]))
              for t in tracks]
    offsets = [t["offset_lu"] for t in tracks]
    return [[f"album of {count}: offsets {min(offsets):+.2f} .. {max(offsets):+.2f} LU", f"{max(errors):.3f} LU",
             f"{sum(e <= 0.5 for e in errors)}/{count} within 0.5 LU"]]


def part_reference(root: Path, sessions: int, seconds: float) -> list[list] | None:
    try:
        import matchering as mg
    except ImportError:
        return None
    import soundfile as sf

    from automix.reference import octave_levels_db, spectrum_distance_db
    from automix.render import normalisation_gain_db
    from automix.session import mix_command
    from automix.sessiongen import write_sessions

    write_sessions(root / "ref_in", sessions + 1, held_out=True, duration_s=seconds)
    folders = sorted((root / "ref_in").glob("heldout-*"))
    ref_dir = root / "refs"
    ref_dir.mkdir()
    mix_command([str(p) for p in sorted(folders[-1].glob("*.wav"))], style="rnb_ballad", targets=None,
                output=str(ref_dir / "ref.wav"), engine="pedalboard", optimize_steps=0, test_stems=None, threads=2,
                verbose=False, html=False)
    ref_path = ref_dir / "ref.wav"
    ref_m, ref_x, ref_sr = _meters(ref_path)
    ref_oct = octave_levels_db(ref_x, ref_sr)
    results = {"automix": [], "matchering": []}
    at_limit = 0  # automix mixes whose master EQ ended at an envelope limit (no room left to shape the spectrum)
    inside = 0  # automix mixes whose every stem and master setting is inside the envelope
    for k, folder in enumerate(folders[:-1]):
        stems = sorted(str(p) for p in folder.glob("*.wav"))
        out = root / f"auto{k}.wav"
        report, _ = mix_command(stems, style="rock_punk", targets=None, output=str(out), engine="pedalboard",
                                optimize_steps=0, test_stems=None, threads=2, verbose=False, html=False,
                                reference=str(ref_path))
        at_limit += any(hit["control"].startswith("eq.") for hit in report["master"].get("envelope_limits_hit", []))
        # the mixer's own envelope check of the settings it wrote: a limit past by any amount counts
        inside += not any(hit["state"] == "violated" for hits in [report["master"].get("envelope_limits_hit", [])]
                          + [s.get("envelope_limits_hit", []) for s in report["stems"]] for hit in hits)
        # a soft miss the report says the envelope bound (the goal counts sessions "where the envelope allows")
        bound = {k: "envelope" in report["targets"][k].get("why", "") or " limit" in report["targets"][k].get("why", "")
                 for k in ("spectral_centroid_hz", "ms_ratio")}
        # matchering's input: the stems at equal loudness, summed (what it would get without a mixer)
        from automix.render import stem_loudness

        total = None
        for s in stems:
            x, sr = sf.read(s, dtype="float64", always_2d=True)
            x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x
            x = x * 10 ** (normalisation_gain_db(stem_loudness(s, sr)) / 20)
            total = x if total is None else total[: len(x)] + x[: len(total)]
        target = root / f"sum{k}.wav"
        sf.write(str(target), total / max(1.0, np.abs(total).max() * 1.01), sr, subtype="FLOAT")
        matched = root / f"match{k}.wav"
        mg.process(target=str(target), reference=str(ref_path), results=[mg.pcm24(str(matched))])
        for name, path in (("automix", out), ("matchering", matched)):
            m, x, sr = _meters(path)
            results[name].append({
                "bound": bound if name == "automix" else {},
                "lufs": m["integrated_lufs"] - ref_m["integrated_lufs"], "tp": m["true_peak_dbtp"],
                "centroid": (m["spectral_centroid_hz"] - ref_m["spectral_centroid_hz"]) / ref_m["spectral_centroid_hz"],
                "ms": m["ms_ratio"] - ref_m["ms_ratio"],
                "spectrum": spectrum_distance_db(octave_levels_db(x, sr), m["integrated_lufs"], ref_oct,
                                                 ref_m["integrated_lufs"])})
    def within(rs, key, target):
        met = sum(abs(r[key]) <= 0.1 for r in rs)
        bound = sum(abs(r[key]) > 0.1 and r["bound"].get(target, False) for r in rs)
        return f"{met}/{len(rs)}" + (f" (+{bound} bound by the envelope)" if bound else "")

    rows = []
    for name, rs in results.items():
        med = lambda key, f=abs: statistics.median(f(r[key]) for r in rs)  # noqa: E731
        worst = lambda key, f=abs: max(f(r[key]) for r in rs)  # noqa: E731
        rows.append([name, f"{med('lufs'):.2f} / {worst('lufs'):.2f}",
                     f"{statistics.median(r['tp'] for r in rs):+.2f} / {max(r['tp'] for r in rs):+.2f}",
                     f"{100 * med('centroid'):.1f} % / {100 * worst('centroid'):.1f} %",
                     f"{med('ms'):.3f} / {worst('ms'):.3f}", f"{med('spectrum'):.2f} / {worst('spectrum'):.2f}",
                     within(rs, "centroid", "spectral_centroid_hz"), within(rs, "ms", "ms_ratio"),
                     f"{at_limit}/{len(rs)}" if name == "automix" else "no envelope",
                     f"{inside}/{len(rs)}" if name == "automix" else "no envelope"])
    return rows


REFERENCE_HEADER = "\n| toward a reference (median / worst) |"


def reference_section(rows: list[list] | None, references: int) -> str:
    """The results file's reference table (it follows the specs' and the album's)."""
    if rows is None:
        return "\nreference comparison skipped: pip install matchering\n"
    return (REFERENCE_HEADER + " loudness error LU | true peak dBTP | centroid error | "
            "M/S error | octave spectrum distance dB | centroid within 10 % | M/S within 0.1 | "
            "master EQ at an envelope limit | settings inside the envelope |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"
            + f"\n{references} held-out sessions mixed to rock_punk toward one reference (another held-out "
            "session mixed to rnb_ballad); matchering 2.0.6 fed the stems' equal-loudness sum, default "
            "settings (its limiter on)\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--album", type=int, default=12)
    ap.add_argument("--references", type=int, default=12)
    ap.add_argument("--only", choices=("reference",), help="re-run one part; the file keeps the others' tables")
    args = ap.parse_args()
    result = Path(__file__).parent / "results" / "delivery.md"
    if args.only == "reference":
        with tempfile.TemporaryDirectory() as tmp:
            rows = part_reference(Path(tmp), args.references, args.seconds)
        text = result.read_text()
        cut = text.find(REFERENCE_HEADER)
        text = (text if cut < 0 else text[:cut]) + reference_section(rows, args.references)
        result.write_text(text)
        print(text)
        return
    before = contention_probe()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec_rows = part_specs(root, args.sessions, args.seconds)
        album_rows = part_album(root, args.album, args.seconds)
        ref_rows = part_reference(root, args.references, args.seconds)
    note = contention_note(before, contention_probe())
    write_table("delivery", ["spec", "loudness in tolerance", "true peak <= ceiling (file)", "worst TP - ceiling dB",
                             "MP3 and AAC decodes <= ceiling", "worst decode - ceiling dB"], spec_rows,
                notes=(f"{args.sessions} held-out generated sessions x {args.seconds:g} s, rock_punk, measured from "
                       "the written files (16-bit CD master after its dither; decodes by PyAV, 4x true peak)", note))
    text = result.read_text()
    text += "\n| album | worst offset error | tracks |\n|---|---|---|\n" + "\n".join(
        "| " + " | ".join(r) + " |" for r in album_rows) + "\n"
    text += reference_section(ref_rows, args.references)
    result.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
