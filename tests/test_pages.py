"""The browser pages' data and self-contained HTML, from real outputs (what the app draws is tested in a real
browser in test_browser.py)."""
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from automix import pages
from automix.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def inlined_page(html_path: Path) -> dict:
    """The page data a written HTML file carries (what the app reads)."""
    text = html_path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="automix-page">(.*?)</script>', text, re.S)
    assert m, f"{html_path} carries no page data"
    return json.loads(m.group(1).replace("<\\/", "</").replace("<\\!--", "<!--"))


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "automix", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_batch_writes_the_dashboard_and_a_page_per_session(ui_outputs):
    out = ui_outputs.batch
    page = inlined_page(out / "index.html")
    summary = json.loads((out / "summary.json").read_text())
    assert page["kind"] == "batch" and page["schema"] == pages.PAGE_SCHEMA and page["running"] is False
    assert [r["session"] for r in page["rows"]] == sorted(s["session"] for s in summary["sessions"])
    by_name = {s["session"]: s for s in summary["sessions"]}
    for row in page["rows"]:
        assert row["status"] == by_name[row["session"]]["status"]
        assert row["code"] == by_name[row["session"]]["code"]
        assert (out / row["href"]).is_file(), "every row opens its session page"
        report = json.loads((out / row["session"] / "report.json").read_text())
        mix = report["mix"]
        if mix is None:
            assert row["targets"] is None and row["reason"] == report["reason"]
            continue
        assert row["targets"]["integrated_lufs"]["error"] == mix["targets"]["integrated_lufs"]["error"]
        assert row["targets"]["spectral_centroid_hz"]["error"] == mix["targets"]["spectral_centroid_hz"]["error_rel"]
        worst = max(mix["targets"]["band_balance"]["error"].values(), key=abs)
        assert row["targets"]["band_balance"]["error"] == worst
        assert row["duration_s"] == pytest.approx(4.0, abs=0.01)
        assert row["soft_missed"] == [n for n, t in mix["targets"].items() if not t["hard"] and not t["pass"]]
    assert page["counts"] == {"ok": 3, "failed": 1}
    failed = next(r for r in page["rows"] if r["status"] == "failed")
    assert failed["code"] == "E_UNREADABLE" and "a.wav" in failed["reason"]


def test_a_session_page_holds_the_report_settings_and_views_as_written(ui_outputs):
    out = ui_outputs.batch
    name = next(r["session"] for r in inlined_page(out / "index.html")["rows"] if r["status"] == "ok")
    page = inlined_page(out / name / "report.html")
    record = json.loads((out / name / "report.json").read_text())
    assert page["report"] == record["mix"]
    assert page["settings"] == json.loads((out / name / "settings.json").read_text())
    assert page["views"] == json.loads((out / name / "views.json").read_text())
    assert page["problems"] == [] and page["links"]["dashboard"] == "../index.html"
    assert (out / name / page["links"]["audio"]).is_file()
    # the views' per-band stereo is of the delivered master: its M/S in the band sums is the report's
    stereo = page["views"]["stereo"]["master"]
    assert len(stereo["ms_ratio"]) == len(stereo["edges_hz"]) + 1
    assert page["views"]["duration_s"] == pytest.approx(4.0, abs=0.01)


def test_sizes_stay_small(ui_outputs):
    """A session's inlined data under 200 KB; the app bundle under 500 KB gzipped."""
    out = ui_outputs.batch
    for report in out.glob("*/report.json"):
        data = json.dumps(pages.session_page(report), separators=(",", ":"))
        assert len(data.encode()) < 200_000, report
    js, css = pages.bundle()
    assert len(gzip.compress((js + css).encode(), 9)) < 500_000


def test_mix_writes_its_page_unless_told_not_to_and_report_rewrites_it(ui_outputs, tmp_path):
    mix = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, mix)
    assert not (mix / "mix.report.html").exists(), "the fixture's mix ran with html=False"
    proc = cli("report", mix)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(mix / "mix.report.html")
    page = inlined_page(mix / "mix.report.html")
    assert page["kind"] == "session" and page["title"] == "mix"
    assert page["report"] == json.loads((mix / "mix.report.json").read_text())
    assert page["links"] == {"audio": "mix.wav", "report": "mix.report.json", "settings": "mix.settings.json",
                             "views": "mix.views.json", "dashboard": None, "exports": []}
    # the same from the report file itself
    (mix / "mix.report.html").unlink()
    assert cli("report", mix / "mix.report.json").returncode == 0
    assert inlined_page(mix / "mix.report.html") == page


@pytest.mark.parametrize("html", [True, False])
def test_mix_command_writes_the_page_by_default(tmp_path, html):
    from automix.session import mix_command

    _, lines = mix_command([], style="rock_punk", targets=None, output=str(tmp_path / "m.wav"), engine="pedalboard",
                           optimize_steps=0, test_stems=2, threads=1, verbose=False, html=html)
    assert (tmp_path / "m.report.html").is_file() is html
    assert any("m.report.html" in line for line in lines) is html


def _copy_session(ui_outputs, tmp_path) -> Path:
    out = ui_outputs.batch
    name = next(r["session"] for r in inlined_page(out / "index.html")["rows"] if r["status"] == "ok")
    dst = tmp_path / name
    shutil.copytree(out / name, dst)
    return dst


def test_a_missing_views_file_is_one_sentence_and_the_rest_is_shown(ui_outputs, tmp_path):
    s = _copy_session(ui_outputs, tmp_path)
    (s / "views.json").unlink()
    page = pages.session_page(s / "report.json")
    assert page["views"] is None and page["report"] is not None and page["settings"] is not None
    assert len(page["problems"]) == 1
    assert page["problems"][0].startswith("views.json is missing") and page["problems"][0].endswith(".")


def test_a_truncated_settings_file_is_named(ui_outputs, tmp_path):
    s = _copy_session(ui_outputs, tmp_path)
    text = (s / "settings.json").read_text()
    (s / "settings.json").write_text(text[: len(text) // 2])
    page = pages.session_page(s / "report.json")
    assert page["settings"] is None and page["views"] is not None
    assert page["problems"] == [
        "settings.json cannot be read (truncated or not JSON): the mixer (settings) is not shown; "
        "re-run the mix to rewrite it."]


def test_an_older_report_schema_is_shown_with_a_warning(ui_outputs, tmp_path):
    mix = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, mix)
    report = json.loads((mix / "mix.report.json").read_text())
    report["schema"] = "automix.report/0"
    del report["targets"]["ms_ratio"]
    (mix / "mix.report.json").write_text(json.dumps(report))
    page = pages.session_page(mix / "mix.report.json")
    assert page["report"]["targets"].keys() == report["targets"].keys()
    assert any("automix.report/0" in p and "automix.report/1" in p for p in page["problems"])


def test_a_failed_session_page_says_why(ui_outputs):
    page = pages.session_page(ui_outputs.batch / "broken" / "report.json")
    assert page["status"] == "failed" and page["code"] == "E_UNREADABLE" and "a.wav" in page["reason"]
    assert page["report"] is None and page["problems"] == []


def test_a_folder_that_is_no_output_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "stems").mkdir()
    (tmp_path / "stems" / "a.wav").write_bytes(b"RIFF")
    proc = cli("report", tmp_path / "stems")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a session's or a batch's output" in lines[0] and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["a.wav"], "nothing written"
    with pytest.raises(UsageError, match="does not exist"):
        pages.write_pages(tmp_path / "nowhere")


def test_inlined_text_cannot_close_its_script(ui_outputs, tmp_path):
    mix = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, mix)
    report = json.loads((mix / "mix.report.json").read_text())
    evil = "</script><script>document.title='pwned'</script><!--"
    report["warnings"].append(evil)
    (mix / "mix.report.json").write_text(json.dumps(report))
    path = Path(pages.write_session_html(mix / "mix.report.json"))
    text = path.read_text()
    assert "</script><script>document.title" not in text
    assert text.count("</script>") == 2, "only the two script elements close"
    assert inlined_page(path)["report"]["warnings"][-1] == evil


def test_a_running_batch_is_seen_as_running(ui_outputs, tmp_path):
    """A ledger whose last run has not ended, with the folder's lock held, is a running batch; the same ledger
    with the lock free is a batch that was killed."""
    import fcntl

    out = tmp_path / "out"
    shutil.copytree(ui_outputs.batch, out)
    lines = (out / "ledger.jsonl").read_text().splitlines()
    (out / "ledger.jsonl").write_text("\n".join(line for line in lines if '"event": "end"' not in line) + "\n")
    assert pages.batch_page(out)["running"] is False
    with open(out / ".automix" / "lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        assert pages.batch_page(out)["running"] is True


def test_the_shipped_bundle_is_built_from_the_current_sources():
    """automix/web/build.json names the sources the bundle was built from (CI rebuilds and compares bytes)."""
    if not (ROOT / "ui" / "build.py").is_file():
        pytest.skip("not a source checkout")
    sys.path.insert(0, str(ROOT / "ui"))
    try:
        import build as ui_build
    finally:
        sys.path.pop(0)
    stamp = json.loads((ROOT / "automix" / "web" / "build.json").read_text())
    assert stamp["source_sha256"] == ui_build.source_digest(), "run python ui/build.py and commit automix/web"
