"""Stand-in process functions for tests and benchmarks of the runner (not used in production).

They have the signature of :func:`automix.mixer.mix_session` and honour its
contract (validate stems with stable codes, write ``output`` and
``settings_out`` atomically, return a report with ``status``, ``targets``,
``warnings`` and ``timings``):

* :func:`sum_process`: a real streaming render without the mixer: probe,
  stream every stem through :class:`~automix.audio_io.StemReader` (NaN/inf
  checks, resampling, padding), sum, normalise the peak to -1 dBFS, write
  24-bit through :class:`~automix.audio_io.AtomicWriter`. Deterministic.
* :func:`render_process`: ``automix.render.settings_template`` +
  ``render_to_file`` (neutral settings through the production engine).
* :func:`scripted_process`: reads ``fake.json`` next to the first stem and
  misbehaves as told (``sleep``, ``sleep_per_block``, ``crash``: abort /
  exit / segv / kill, ``crash_once``: a flag file so only the first attempt
  crashes, ``hang``, ``raise``, ``missed``, ``soft_missed``: target names), then runs
  :func:`sum_process`.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from automix.audio_io import (BLOCK_FRAMES, LOSSY_EXTENSIONS, AtomicWriter, StemReader, output_frames, output_tag,
                              probe, write_text_atomic)
from automix.errors import SessionError

__all__ = ["sum_process", "render_process", "scripted_process"]


def sum_process(stems, *, style, output, settings_out=None, report_out=None, views_out=None, engine="pedalboard",
                optimize_steps=0, roles=None, threads=1, _delay_per_block: float = 0.0) -> dict:
    """A stand-in for the mixer: the stems summed at unity (writes no views file)."""
    t0 = time.perf_counter()
    if not stems:
        raise SessionError("no stems given", code="E_EMPTY")
    infos = [probe(p) for p in stems]
    rates = Counter(i.sample_rate for i in infos)
    sr = max(rates, key=lambda r: (rates[r], r))
    warnings = []
    for i in infos:
        if i.sample_rate != sr:
            warnings.append(f"{i.path}: {i.sample_rate} Hz resampled to {sr} Hz")
        if i.path.lower().endswith(LOSSY_EXTENSIONS):
            warnings.append(f"{i.path}: lossy format decoded")
    frames = [output_frames(i, sr) for i in infos]
    n = max(frames)
    if n - min(frames) > sr:
        warnings.append(f"stems differ in length ({min(frames) / sr:.1f} s to {n / sr:.1f} s); padded with silence")

    def blocks():
        readers = [StemReader(i, sr).__enter__() for i in infos]
        try:
            for start in range(0, n, BLOCK_FRAMES):
                m = min(BLOCK_FRAMES, n - start)
                parts = [r.read(m) for r in readers]
                yield parts
        finally:
            for r in readers:
                r.__exit__(None, None, None)

    peaks = np.zeros(len(infos))
    dc = np.zeros(len(infos))
    bus_peak = 0.0
    for parts in blocks():
        for k, x in enumerate(parts):
            peaks[k] = max(peaks[k], float(np.abs(x).max(initial=0.0)))
            dc[k] += float(x.sum())
        bus_peak = max(bus_peak, float(np.abs(np.sum(parts, axis=0)).max(initial=0.0)))
    for i, p, d in zip(infos, peaks, dc / max(2 * n, 1)):
        if p > 1.0:
            warnings.append(f"{i.path}: peaks at {20 * np.log10(p):+.2f} dBFS (float stem, not clipped on read)")
        if abs(d) > 0.01:
            warnings.append(f"{i.path}: DC offset {d:+.3f}")
    if peaks.max() == 0.0:
        raise SessionError(f"{Path(stems[0]).parent}: every stem is silent; nothing to mix", code="E_SILENT")
    if bus_peak < 1e-6:
        raise SessionError(f"{Path(stems[0]).parent}: the stems cancel; nothing to master", code="E_SILENT")
    gain = 10 ** (-1 / 20) / bus_peak
    writer = AtomicWriter(output, sr, 2, "PCM_24", protect=tuple(stems), tag=output_tag())
    try:
        for parts in blocks():
            writer.write(np.sum(parts, axis=0) * gain)
            if _delay_per_block:
                time.sleep(_delay_per_block)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    if settings_out is not None:
        write_text_atomic(settings_out, json.dumps({"fake": "sum", "sample_rate": sr, "gain": gain,
                                                    "stems": [os.path.basename(p) for p in stems],
                                                    "roles": roles or {}}, indent=2) + "\n")
    return {"status": "ok", "targets": {}, "warnings": warnings, "sample_rate": sr, "frames": n,
            "timings": {"total_s": round(time.perf_counter() - t0, 4)}}


def render_process(stems, *, style, output, settings_out=None, report_out=None, engine="pedalboard",
                   optimize_steps=0, roles=None, threads=1) -> dict:
    from automix.render import render_to_file, settings_template

    t0 = time.perf_counter()
    settings = settings_template(list(stems))
    measured = render_to_file(settings, output, engine=engine, threads=threads)
    if settings_out is not None:
        settings.save(settings_out)
    return {"status": "ok", "targets": {}, "warnings": [], "measured": measured,
            "timings": {"total_s": round(time.perf_counter() - t0, 4)}}


def _crash(how: str) -> None:
    import signal

    if how == "abort":
        os.abort()
    if how == "exit":
        os._exit(3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segv":
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    raise ValueError(f"unknown crash {how!r}")


def scripted_process(stems, **kwargs) -> dict:
    script_path = Path(stems[0]).parent / "fake.json"
    script = json.loads(script_path.read_text()) if script_path.exists() else {}
    time.sleep(float(script.get("sleep", 0)))
    if script.get("crash"):
        flag = script.get("crash_once")
        if flag is None or not os.path.exists(flag):
            if flag is not None:
                Path(flag).write_text("crashed once")
            _crash(script["crash"])
    if script.get("hang"):
        while True:
            time.sleep(1)
    if script.get("raise"):
        raise RuntimeError(script["raise"])
    report = sum_process(stems, _delay_per_block=float(script.get("sleep_per_block", 0)), **kwargs)
    if script.get("missed"):
        report["status"] = "missed"
        report["targets"] = {"integrated_lufs": {"pass": False}, "true_peak_dbtp": {"pass": True}}
    for name in script.get("soft_missed", []):
        report["targets"][name] = {"hard": False, "pass": False, "why": "scripted"}
    return report
