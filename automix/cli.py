"""automix command line: parse, call one library function, map errors to exit codes.

Exit codes (:mod:`automix.errors`): 0 ok; 1 a target failed (reported); 2 usage, settings,
style or input error (one line, no traceback); 3 internal or infrastructure error; 130/143 interrupted.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import time

import click

from automix.constants import DEFAULT_ENGINE, ENGINES
from automix.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_SIGNAL, EXIT_USAGE, AutomixError, UsageError


def _cores() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _threads_option(what: str):
    # one job uses every core by default (the output is bit-identical for any count); batch workers run 1 each
    return click.option("--threads", type=click.IntRange(min=1), default=_cores, show_default="all cores",
                        help=f"{what} (the output is bit-identical for any count).")


def _fail(message: str, code: int) -> None:
    click.echo(f"automix: error: {message}", err=True)
    sys.exit(code)


class _Progress:
    """One status line on stderr, rewritten in place ("automix: master loop pass 2 (14 s)"), only when stderr
    is a terminal: piped or redirected output stays clean. Cleared when the work ends."""

    def __init__(self, enabled: bool = True):
        self.on = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        if self.on:
            sys.stderr.write(f"\r\033[Kautomix: {text} ({time.monotonic() - self.t0:.0f} s)")
            sys.stderr.flush()

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.on:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


#: set once a mix or a render has written all its files: the process may then end at once (see :func:`run`)
_finished: list[str] = []


class _Group(click.Group):
    """Turn user errors into one line and an exit code; never a traceback for them."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AutomixError as e:
            _fail(str(e), e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            _fail("interrupted; nothing was written", EXIT_SIGNAL[signal.SIGINT])
        except BrokenPipeError:  # output piped into `head` and closed: not an error
            sys.stderr.close()
            sys.exit(0)
        except Exception as e:  # a bug: say so in one line, traceback only on request
            if os.environ.get("AUTOMIX_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (set AUTOMIX_DEBUG=1 for a traceback and "
                  "please report it)", EXIT_INTERNAL)


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _fmt(v) -> str:
    if isinstance(v, float):
        return "-inf" if v == -math.inf else f"{v:.2f}"
    if isinstance(v, dict):
        return "/".join(_fmt(x) for x in v.values())
    return str(v)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="automix")
def main():
    """automix: auto-mixing and mastering with twin torch / pedalboard engines."""
    from automix.runtime import configure

    configure()


def run() -> None:
    """The ``automix`` program (``python -m automix`` too): :func:`main`, then, after a mix or a render that
    finished, the process ends at once instead of tearing down its interpreter.

    Every output of those commands is written, closed and renamed into place before they return; what is
    left is freeing what the process holds (numba's compiled code, the audio arrays), 0.3-0.4 s after a
    3-minute mix, which the operating system does anyway. Anything else (an error, ``batch``, ``ui``) exits
    normally. :func:`main` itself (what tests call in-process) never ends the process this way.
    """
    try:
        main()
    except SystemExit as done:
        code = done.code
        if _finished and (code is None or isinstance(code, int)):
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # read by `head` and closed, or closed already: nothing to lose
                    pass
            os._exit(code or 0)
        raise


def _delivery_options(f):
    f = click.option("--rate", type=int, default=None,
                     help="Sample rate of the output (Hz; converted with soxr VHQ); default: the session's.")(f)
    f = click.option("--bits", type=click.Choice(["16", "24", "32f"]), default=None,
                     help="Word length of the output (16 with TPDF dither); default 24.")(f)
    f = click.option("--codec-check", default=None, metavar="CODECS",
                     help="Encode each master (mp3, aac, opus), decode, and master again until every decode's true "
                          "peak meets the ceiling; the encodes are written beside the master.")(f)
    f = click.option("--deliver", default=None, metavar="SPECS",
                     help="Master to delivery specs (spotify, apple_music, cd, ...; automix deliver --list): the output "
                          "meets the first, OUT.<spec>.<ext> each further one.")(f)
    return f


@main.command()
@click.option("--settings", "settings_path", required=True, type=click.Path(dir_okay=False),
              help="Settings JSON (automix.settings/1).")
@click.option("--stems", multiple=True, help="Stem files overriding the settings' paths, in order.")
@click.option("--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="Output WAV (24-bit).")
@_threads_option("Stems rendered concurrently")
@click.option("--style", default=None, help="Judge stem levels against this style's balance and use its envelope.")
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Your own style YAML (with --style).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the moves and envelope limits hit, per stem and master, as JSON here.")
@_delivery_options
@click.argument("extra_stems", nargs=-1, required=False)
def render(settings_path, stems, engine, output, threads, style, targets, report_path, deliver, bits, rate,
           codec_check, extra_stems):
    """Render a settings file to a mixed stereo WAV; prints each stem's moves against the envelope.

    With --deliver the master loop runs again for each delivery spec (the output meets the first,
    OUT.<spec>.<ext> each further one); a spec that leaves its loudness to the style (cd) needs --style."""
    from automix.moves import render_report, table_lines
    from automix.render import render_to_file
    from automix.settings import MixSettings

    settings = MixSettings.load(settings_path)
    stem_list = list(stems) + list(extra_stems)
    if stem_list:
        settings = settings.with_stem_paths(stem_list)
    chosen = None
    if style or targets:
        from automix.styles import get_style, load_style_targets

        chosen = get_style(style, load_style_targets(targets) if targets else None)
    if deliver or codec_check:
        if not deliver:
            raise UsageError("render --codec-check masters again, so it needs --deliver (the spec to master to)")
        _render_delivery(settings, output, deliver, chosen, bits, rate, engine, threads, report_path, codec_check)
        return
    if bits or rate:
        from automix.finish import OutputFormat

        deliver_fmt = OutputFormat(bits or "24", rate)
    else:
        deliver_fmt = None
    result = render_to_file(settings, output, engine=engine, threads=threads, out_format=deliver_fmt)
    click.echo(f"wrote {output}: {result['integrated_lufs']:.2f} LUFS, true peak {result['true_peak_dbtp']:.2f} dBTP")
    report = render_report(settings, output, result, chosen, threads=threads)
    for line in table_lines(report["stems"], report["master"]):
        click.echo(line)
    for note in report["notes"]:
        click.echo(f"note: {note}")
    if report_path:
        from automix.audio_io import write_text_atomic

        write_text_atomic(report_path, json.dumps(_json_safe(report), indent=2, allow_nan=False) + "\n")
        click.echo(f"wrote {report_path}")
    _finished.append("render")


def _render_delivery(settings, output, deliver, style, bits, rate, engine, threads, report_path, codec_check) -> None:
    from automix.codecs import parse_codecs
    from automix.delivery import parse_specs
    from automix.render import deliver_render
    from automix.session import delivery_lines

    specs = parse_specs(deliver)
    codecs = parse_codecs(codec_check)
    if style is None:
        needs = [s.name for s in specs if s.lufs is None or s.true_peak_dbtp is None]
        if needs:
            raise UsageError(f"--deliver {', '.join(needs)} keeps the style's loudness or ceiling; give --style")
        from automix.styles import get_style

        style = get_style("rock_punk")  # the envelope only: every spec sets its own loudness and ceiling
    report = deliver_render(settings, output, specs, style, bits=bits, rate=rate, engine=engine, threads=threads,
                            codecs=codecs)
    for line in delivery_lines(report):
        click.echo(line)
    if report_path:
        from automix.audio_io import write_text_atomic

        write_text_atomic(report_path, json.dumps(_json_safe(report), indent=2, allow_nan=False) + "\n")
        click.echo(f"wrote {report_path}")
    _finished.append("render")
    if not all(d["pass"] for d in report["delivery"]):
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array (an object per file) instead of a table.")
def analyze(files, as_json):
    """Measure loudness, peaks, spectrum and stereo image of audio files.

    A file that cannot be measured gets a row with its error code; the others are still measured. Exits 2
    when any file could not be (an input error, as for mix).
    """
    from automix.render import analyze_files

    rows = analyze_files(files)
    if as_json:
        click.echo(json.dumps(_json_safe(rows), indent=2, allow_nan=False))
    else:
        cols = [("integrated_lufs", "LUFS"), ("short_term_max_lufs", "S-max"), ("momentary_max_lufs", "M-max"),
                ("loudness_range_lu", "LRA"), ("true_peak_dbtp", "dBTP"), ("sample_peak_dbfs", "dBFS"),
                ("spectral_centroid_hz", "centroid"), ("ms_ratio", "M/S"), ("band_balance", "low/mid/high")]
        click.echo("\t".join(["file"] + [c[1] for c in cols]))
        for r in rows:
            if "error" in r:
                click.echo(f"{r['file']}\t{r['code']}: {r['error']}")
            else:
                click.echo("\t".join([r["file"]] + [_fmt(r[c]) for c, _ in cols]))
    if any("error" in r for r in rows):
        sys.exit(EXIT_USAGE)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """List the registered plugins and every parameter spec."""
    from automix.plugins import REGISTRY

    data = [{"plugin": p.name, "doc": p.doc, "params": [
        {"name": s.name, "min": s.minimum, "max": s.maximum, "default": s.default, "scale": s.scale, "doc": s.doc}
        for s in p.params]} for p in REGISTRY.values()]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for p in data:
        click.echo(f"{p['plugin']}: {p['doc']}")
        for s in p["params"]:
            click.echo(f"  {s['name']:<20} {s['min']:>9g} .. {s['max']:<9g} default {s['default']:<8g} {s['scale']:<6} {s['doc']}")


@main.command("settings-template")
@click.option("--stems", multiple=True, required=True, help="Stem files (repeat or list).")
@click.argument("extra_stems", nargs=-1, required=False)
@click.option("--sample-rate", type=int, default=None, help="Session rate (default: the first stem's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write here (paths stored relative to it) instead of stdout (absolute paths).")
def settings_template(stems, extra_stems, sample_rate, output):
    """Neutral, loudness-normalised settings for the given stems."""
    from automix.render import settings_template as make

    folder = os.path.dirname(os.path.abspath(output)) if output else None
    settings = make(list(stems) + list(extra_stems), sample_rate=sample_rate, relative_to=folder)
    if output:
        settings.save(output)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(settings.to_json(), nl=False)


@main.command()
@click.option("--stems", multiple=True, help="Stem files or one session folder (repeat, or list them after --stems).")
@click.argument("extra_stems", nargs=-1, required=False)
@click.option("--style", required=True, help="Preset name (see `automix styles`) or a style in --targets.")
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Your own style YAML.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="Mixed WAV (24-bit).")
@click.option("--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True)
@click.option("--optimize", type=click.IntRange(0, 10000), default=0, show_default=True,
              help="Gradient steps of refinement through the torch engine before the final render.")
@click.option("--test-stems", type=click.IntRange(1, 64), default=None,
              help="Mix N synthetic stems (written next to the output) instead of --stems.")
@click.option("--validate", is_flag=True, help="Print every target with pass/fail and the reason for misses.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display (it is shown only on a terminal anyway).")
@click.option("--no-html", is_flag=True, help="Skip the browser page (OUT.report.html).")
@click.option("--print-stems", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Also print every stem through its strip into DIR, with premaster.wav and master.wav.")
@_delivery_options
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="A finished track to mix toward: its loudness, centroid, M/S and band balance become the targets; "
                   "the report says how close the mix came.")
@_threads_option("Stems analysed and rendered concurrently, the master metered and written beside its chain")
def mix(stems, extra_stems, style, targets, output, engine, optimize, test_stems, validate, quiet, no_html,
        print_stems, deliver, bits, rate, codec_check, reference, threads):
    """Auto-mix and master stems to a style; writes OUT.wav, OUT.settings.json, OUT.report.json, OUT.views.json
    and OUT.report.html (the report in a browser).

    Give the stems as files, or a session folder (its audio files are the stems; a mix automix wrote
    there earlier is left out). Exits 1 when a hard target (loudness, true-peak ceiling) is missed,
    2 on a usage or input error.
    """
    from automix.errors import check_exists

    for path in list(stems) + list(extra_stems):  # a mistyped path answered before numpy and the styles load
        check_exists(path)
    from automix.session import mix_command

    with _Progress(enabled=not quiet) as show:
        report, lines = mix_command(list(stems) + list(extra_stems), style=style, targets=targets, output=output,
                                    engine=engine, optimize_steps=optimize, test_stems=test_stems, threads=threads,
                                    verbose=validate, progress=show, html=not no_html, print_stems=print_stems,
                                    deliver=deliver, bits=bits, rate=rate, codec_check=codec_check,
                                    reference=reference)
    _finished.append("mix")
    for line in lines:
        click.echo(line)
    if report["status"] != "ok":
        sys.exit(EXIT_FAILED)


@main.group(cls=_Group, invoke_without_command=True)
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Also list the styles in this YAML.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def styles(ctx, targets, as_json):
    """List the style presets (and your own) with their targets; `automix styles learn` makes one from masters."""
    if ctx.invoked_subcommand is not None:
        return
    from automix.styles import describe_styles, load_style_targets

    rows = describe_styles(load_style_targets(targets) if targets else None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'style':<14} {'LUFS':>6} {'ceiling':>8} {'centroid':>9} {'M/S':>5}  {'low/mid/high':<15} character")
    for r in rows:
        bal = f"{r['balance_low']:.2f}/{r['balance_mid']:.2f}/{r['balance_high']:.2f}"
        click.echo(f"{r['name']:<14} {r['lufs']:>6.1f} {r['true_peak_ceiling_dbtp']:>8.1f} "
                   f"{r['spectral_centroid_hz']:>9.0f} {r['stereo_ms_ratio']:>5.2f}  {bal:<15} "
                   f"{r['character']}")


@styles.command("learn")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="The learned style's name.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="The style YAML to write (default: NAME.yaml here); use it with --targets FILE --style NAME.")
@click.option("--extends", default=None,
              help="Preset to take the processing priors, role balance, envelope and ceiling from (default: the "
                   "preset whose targets lie nearest).")
@click.option("--force", is_flag=True, help="Replace an existing output.")
def styles_learn(folder, name, output, extends, force):
    """Measure a folder of finished masters into a style: targets are their means, tolerances their spread
    (one standard deviation); reports then give each target's z-score against the folder."""
    from automix.learn import write_learned

    for line in write_learned(folder, name, output or f"{name}.yaml", extends=extends, force=force):
        click.echo(line)


@main.command("deliver")
@click.option("--list", "as_list", is_flag=True, help="List the delivery specs with their numbers and sources.")
@click.option("--json", "as_json", is_flag=True)
def deliver_command(as_list, as_json):
    """The delivery specs --deliver knows: loudness, tolerance, true-peak ceiling, format, and where each number
    comes from."""
    from automix.delivery import specs

    rows = [s.to_dict() for s in specs().values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'spec':<13} {'loudness':>14} {'ceiling':>9} {'format':>14}  source")
    for r in rows:
        loud = "style's" if r["lufs"] is None else f"{r['lufs']:.1f}±{r['tolerance_lu']:g} LUFS"
        ceil = "style's" if r["true_peak_dbtp"] is None else f"{r['true_peak_dbtp']:.1f} dBTP"
        fmt = f"{r['bits']}-bit {r['rate']} Hz" if r["bits"] else "any"
        click.echo(f"{r['name']:<13} {loud:>14} {ceil:>9} {fmt:>14}  {r['source']}")


@main.command()
@click.argument("folder", required=False, default="automix-demo", type=click.Path(file_okay=False))
@click.option("--style", default="rock_punk", show_default=True, help="Preset to mix the demo to.")
def demo(folder, style):
    """Write a synthetic multitrack session to FOLDER, auto-mix it and print what was measured."""
    from automix.demo import run_demo

    for line in run_demo(folder, style=style):
        click.echo(line)


@main.command("batch")
@click.argument("in_dir", type=click.Path(file_okay=False))
@click.option("--style", default=None,
              help="Style preset (or a style of --targets). Required unless --targets holds one style or every "
                   "session's automix.yaml names its own.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (never inside IN_DIR): <session>/mix.wav, settings.json, report.json.")
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Targets YAML with your own styles.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Sessions at once (default: CPUs available).")
@click.option("--backend", type=click.Choice(["loky", "dask"]), default=None,
              help="loky (local processes, default) or dask (LocalCluster, or --scheduler).")
@click.option("--scheduler", default=None, help="Existing dask scheduler, tcp://HOST:PORT.")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Re-runs of a session whose worker died before it is marked crashed.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a session may run before it is stopped (failed, E_TIMEOUT).")
@click.option("--force", is_flag=True, help="Redo every session, even those up to date.")
@click.option("--fail-fast", is_flag=True, help="Stop (exit 2) if the up-front check finds unusable stems.")
@click.option("--follow-links", is_flag=True, help="Use symbolic links that leave IN_DIR.")
@click.option("--quiet", "-q", is_flag=True, help="Only problems: failures, crashes, warnings (no progress).")
@click.option("--no-html", is_flag=True, help="Skip the browser pages (index.html, <session>/report.html).")
@click.option("--export", "exports", default=None, metavar="KINDS",
              help="Also write, per session, any of stems,dawproject,reaper,csv (comma-separated).")
@_delivery_options
@click.option("--album", is_flag=True,
              help="Master the sessions as one album: one style, one loudness anchor, each track's offset from it "
                   "kept from its material (a sparse ballad below a dense rocker).")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="A finished track to mix every session toward: its loudness, centroid, M/S and band balance become "
                   "the targets; each report says how close its mix came.")
@click.option("--process", default=None, hidden=True, help="module:function replacing the mixer (tests, benchmarks).")
def batch_command(in_dir, style, out_dir, targets, jobs, backend, scheduler, retries, timeout, force, fail_fast,
                  follow_links, quiet, no_html, exports, deliver, bits, rate, codec_check, album, reference, process):
    """Render every session folder of IN_DIR into OUT_DIR; resumable, one session = one unit of failure.

    Exit codes: 0 all ok or skipped; 1 some sessions failed; 2 usage or style error (or --fail-fast with
    unusable stems); 3 infrastructure error; 130/143 interrupted (rerun to resume).
    """
    from automix.batch.progress import ConsoleReporter
    from automix.batch.runner import run_batch
    from automix.export import parse_kinds

    result = run_batch(in_dir, out_dir, style=style, targets=targets, jobs=jobs, backend=backend,
                       scheduler=scheduler, retries=retries, timeout=timeout, force=force, fail_fast=fail_fast,
                       follow_links=follow_links, process=process, reporter=ConsoleReporter(quiet=quiet),
                       html=not no_html, exports=parse_kinds(exports) if exports else (), deliver=deliver, bits=bits,
                       rate=rate, codec_check=codec_check, album=album, reference=reference)
    click.echo(result.table())
    sys.exit(result.exit_code)


@main.command("report")
@click.argument("path", type=click.Path())
def report_command(path):
    """Write the browser pages of automix's outputs: PATH is a batch --out folder (index.html, the dashboard,
    and every session's report.html), a folder of automix mix outputs or one X.report.json (X.report.html).

    The pages are self-contained HTML (app and data inlined): they open from disk, with no network.
    """
    from automix.pages import write_pages

    for p in write_pages(path):
        click.echo(p)


@main.group("export", cls=_Group)
def export_group():
    """Write the moves of a mix for other tools: printed stems, a DAWproject, a REAPER project, a CSV table.

    SETTINGS is a mix's settings file. Its stems must be the files the mix was made from (size and hash
    recorded in the settings): a changed or missing stem stops the export before anything is written.
    An existing output is kept unless --force.
    """


def _export_options(f):
    f = click.option("--force", is_flag=True, help="Replace existing outputs.")(f)
    f = click.option("--unchecked", is_flag=True,
                     help="Export even if the settings hold no size and hash for a stem (hand-written settings).")(f)
    return f


def _exported(paths) -> None:
    for p in paths:
        click.echo(f"wrote {p}")


@export_group.command("stems")
@click.argument("settings_path", type=click.Path(dir_okay=False))
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["float", "24"]), default="float", show_default=True,
              help="32-bit float (keeps peaks over 0 dBFS) or 24-bit PCM.")
@_export_options
@_threads_option("Stems rendered concurrently")
def export_stems(settings_path, folder, fmt, force, unchecked, threads):
    """Print every stem through its channel strip into FOLDER, with premaster.wav and master.wav (all
    sample-aligned from time zero, one length: the printed stems sum to the pre-master)."""
    from automix.export import export

    _exported(export("stems", settings_path, folder, force=force, checked=not unchecked, threads=threads, fmt=fmt))


@export_group.command("dawproject")
@click.argument("settings_path", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--reference-media", is_flag=True,
              help="Reference the stems where they are (relative paths) instead of embedding copies.")
@click.option("--tempo", type=click.FloatRange(20, 666), default=None, help="The session's tempo in BPM.")
@_export_options
def export_dawproject(settings_path, out, reference_media, tempo, force, unchecked):
    """A .dawproject (Bitwig Studio, Studio One, Cubase): a track per stem with its clip, fader and pan, the
    EQ, compressor and limiter as built-in devices, the other moves as named device parameters."""
    from automix.export import export

    _exported(export("dawproject", settings_path, out, force=force, checked=not unchecked,
                     reference_media=reference_media, tempo_bpm=tempo))


@export_group.command("reaper")
@click.argument("settings_path", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--prints", type=click.Path(file_okay=False), default=None,
              help="A folder of printed stems (automix export stems) to add beside each stem's item.")
@click.option("--tempo", type=click.FloatRange(20, 666), default=None, help="The session's tempo in BPM.")
@_export_options
def export_reaper(settings_path, out, prints, tempo, force, unchecked):
    """A REAPER project (.RPP): a track per stem with its item, volume and pan; media paths relative to it."""
    from automix.export import export

    _exported(export("reaper", settings_path, out, force=force, checked=not unchecked, prints=prints,
                     tempo_bpm=tempo))


@export_group.command("csv")
@click.argument("settings_path", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@_export_options
def export_csv(settings_path, output, force, unchecked):
    """The settings as a table: one row per stem (role, level, pan, width, every EQ band, compressor,
    saturation) and one for the master, units in the column names."""
    from automix.export import export

    result = export("csv", settings_path, output, force=force, checked=not unchecked)
    if output is None:
        click.echo(result[0], nl=False)
    else:
        _exported(result)


@main.command("ui")
@click.argument("path", required=False, default=".", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port",
              help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; another than 127.0.0.1 makes the views reachable from the network.")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
def ui_command(path, port, host, no_browser):
    """Serve the browser views of PATH (a batch --out folder or a mix's outputs) on a local server, with the
    studio: edit a session's moves and watch its targets follow, listen A/B, optimise, undo, save.

    The first line printed is the URL with this launch's token (every request needs it). While a batch runs
    in PATH, its dashboard follows the ledger. The server writes only into a session's folder, and only when
    the studio saves (and its scratch files in <session>/.automix-studio/). Ctrl-C stops the server.
    """
    from automix.server import serve

    def announce(url):
        click.echo(url)
        sys.stdout.flush()
        click.echo("automix ui: serving; Ctrl-C stops", err=True)

    try:
        serve(path, host=host, port=port, open_browser=not no_browser, announce=announce)
    except KeyboardInterrupt:
        pass
    click.echo("automix ui: stopped", err=True)


@main.command("sessions")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True, help="Sessions to write.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="First training seed (or first held-out index with --held-out).")
@click.option("--held-out", is_flag=True, help="Held-out evaluation seeds (never used in training): heldout-NNNN.")
@click.option("--duration", type=click.FloatRange(min=2.0), default=10.0, show_default=True, help="Seconds per session.")
def sessions_command(out_dir, count, seed, held_out, duration):
    """Write synthetic multitrack sessions (stems + truth.json with reference gains) into OUT_DIR."""
    from automix.sessiongen import TRAIN_SEEDS, write_sessions

    if not held_out and seed + count > TRAIN_SEEDS.stop:
        raise click.BadParameter(f"training seeds end at {TRAIN_SEEDS.stop - 1}; use --held-out for evaluation sets",
                                 param_hint="--seed/--count")
    write_sessions(out_dir, count, seed=seed, held_out=held_out, duration_s=duration,
                   progress=lambda s: click.echo(f"{s['folder']}\t{s['stems']} stems\t{s['sample_rate']} Hz\t"
                                                 f"{s['subtype']}"))


@main.command("evaluate")
@click.argument("in_dir", metavar="[DIR]", required=False, type=click.Path(file_okay=False))
@click.option("--style", default="rock_punk", show_default=True, help="Preset (or a style of --targets) to judge against.")
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Targets YAML with your own styles.")
@click.option("--count", type=click.IntRange(min=1), default=12, show_default=True,
              help="Held-out sessions to generate when no IN_DIR is given.")
@click.option("--duration", type=click.FloatRange(min=2.0), default=10.0, show_default=True,
              help="Seconds per generated session.")
@click.option("--optimize", type=click.IntRange(0, 10000), default=8, show_default=True,
              help="Refinement steps of system (d).")
@click.option("--no-invariance", is_flag=True, help="Skip the level and permutation invariance mixes.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON instead of the table.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the summary as a markdown table to this file.")
def evaluate_command(in_dir, style, targets, count, duration, optimize, no_invariance, as_json, out_path):
    """Four systems side by side per target: (a) raw + gain, (b) equal loudness + master loop,
    (c) predictor only, (d) the full pipeline; plus invariance and stem balance against truth.json.

    DIR is a folder of session folders (or one session folder); without it, generated held-out
    sessions are evaluated (in a temporary folder, deleted afterwards). Nothing is written into DIR.
    """
    from automix.audio_io import write_text_atomic
    from automix.evaluate import evaluate, markdown_report, text_report

    result = evaluate(in_dir, style=style, targets=targets, count=count, duration_s=duration,
                      optimize_steps=optimize, invariance=not no_invariance,
                      progress=lambda line: click.echo(line, err=True))
    if out_path:
        write_text_atomic(out_path, markdown_report(result))
        click.echo(f"wrote {out_path}", err=True)
    click.echo(json.dumps(_json_safe(result), indent=2, allow_nan=False) if as_json else text_report(result))


@main.command("validate")
@click.option("--style", "style_names", multiple=True, help="Style(s) to mix to (repeat); default: every preset.")
@click.option("--targets", type=click.Path(dir_okay=False), default=None, help="Targets YAML with your own styles.")
@click.option("--case", "cases", multiple=True, help="Case(s) to run (repeat); default: all.")
@click.option("--duration", type=click.FloatRange(min=2.0), default=6.0, show_default=True, help="Seconds per stem.")
@click.option("--optimize", type=click.IntRange(0, 10000), default=0, show_default=True, help="Refinement steps.")
@click.option("--verbose", "-v", is_flag=True, help="Per-stem roles and gains, master settings and loop iterations.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def validate_command(style_names, targets, cases, duration, optimize, verbose, as_json):
    """The validation suite: synthetic sessions (white noise, bass-heavy, bright, very quiet, very loud,
    heavily compressed) mixed to every style; every target with pass/fail.

    Exits 1 when a hard target (loudness, true-peak ceiling) is missed.
    """
    from automix.validate import run_validation, validation_lines

    result = run_validation(list(style_names) or None, targets=targets, cases=list(cases) or None,
                            duration_s=duration, optimize_steps=optimize,
                            progress=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(_json_safe(result), indent=2, allow_nan=False))
    else:
        for line in validation_lines(result, verbose=verbose):
            click.echo(line)
    if result["hard_failures"]:
        sys.exit(EXIT_FAILED)


@main.command("train")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Weights to write (.safetensors; its manifest .json is written next to it).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimiser steps (default: the shipped run's).")
@click.option("--tone-steps", type=click.IntRange(min=0), default=None,
              help="Second-stage steps: the master tone head alone, the rest frozen (default: the shipped run's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds data, batches, targets and init.")
@click.option("--sessions", "sessions_dir", type=click.Path(file_okay=False), default=None,
              help="Train on these session folders instead of generated sessions.")
@click.option("--pool", "pool_sessions", type=click.IntRange(min=1), default=None, help="Sessions in the data pool.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch threads (default 2).")
@click.option("--fresh", is_flag=True, help="Ignore a checkpoint of an interrupted run and start over.")
def train_command(out_path, steps, tone_steps, seed, sessions_dir, pool_sessions, threads, fresh):
    """Train the predictor through the differentiable engine; checkpoints, resumable (rerun the same command)."""
    from automix.train import TrainConfig, train

    given = {"steps": steps, "tone_steps": tone_steps, "sessions_dir": sessions_dir, "pool_sessions": pool_sessions,
             "threads": threads}
    config = TrainConfig(seed=seed, **{k: v for k, v in given.items() if v is not None})
    bar = {"stage": None}

    def progress(stage, done, total, stats):
        if stage == "resume":
            click.echo(f"resuming from step {done} of {total}", err=True)
            return
        if stage != bar["stage"]:
            bar["stage"] = stage
            click.echo(f"{stage}: {total} {'steps' if stage in ('train', 'tone') else 'sessions'}", err=True)
            bar["t0"], bar["from"] = time.monotonic(), done - 1
        if done == total or done % 10 == 0:
            filled = int(30 * done / total)
            rate = (time.monotonic() - bar["t0"]) / max(done - bar["from"], 1)
            tail = f"  loss {stats['loss']:.3f}  centroid err {stats['centroid_err']:.1%}  M/S err " \
                   f"{stats['ms_err']:.3f}" if stats else ""
            click.echo(f"  [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}  eta "
                       f"{rate * (total - done) / 60:.1f} min{tail}", err=True)

    manifest = train(out_path, config, fresh=fresh, progress=progress)
    t = manifest["training"]
    click.echo(f"wrote {out_path} ({manifest['bytes'] / 1e6:.2f} MB, sha256 {manifest['sha256'][:16]}...) "
               f"after {t['seconds'] / 60:.1f} min; final loss {t['final'].get('loss', float('nan')):.3f}")


@main.command("train-roles")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Role model to write (.json).")
@click.option("--sessions", type=click.IntRange(min=2), default=None,
              help="Generated training sessions (default: the shipped run's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the choice of training sessions.")
@_threads_option("Processes generating sessions")
def train_roles_command(out_path, sessions, seed, threads):
    """Fit the model that names a stem's role from its audio when its file name says nothing."""
    from automix.role_model import DEFAULT_SESSIONS, train_role_model

    total = sessions or DEFAULT_SESSIONS

    def progress(done, n):
        if done == n or done % 25 == 0:
            click.echo(f"  {done}/{n} sessions analysed", err=True)

    model = train_role_model(out_path, sessions=total, seed=seed, jobs=threads, progress=progress)
    i = model.info
    click.echo(f"wrote {out_path}: {i['examples']} stems from {i['sessions']} sessions, training accuracy "
               f"{i['train_accuracy']:.1%}, {i['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
