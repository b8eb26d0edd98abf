"""The pages in a real browser: Debian's headless Chromium driven by Selenium through chromedriver.

What a person sees is asserted: rows and statuses, badges, the reason for a miss, channel strips, drawn charts,
the numbers of the compliance table against the report JSON, and no console errors. Screenshots of both views
go to ``test-artifacts/`` (or ``$AUTOMIX_ARTIFACTS``). Without Chromium the tests are skipped, unless
``AUTOMIX_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("AUTOMIX_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("AUTOMIX_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromium-driver are required (apt-get install -y chromium chromium-driver)")
        pytest.skip("chromium / chromedriver not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                "--disable-dev-shm-usage", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, url: str, ready: str):
    """Load ``url`` and wait until an element with ``data-testid=ready`` is shown; returns the console log."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(url)
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-testid="{ready}"]')))
    return driver.get_log("browser")


def by_testid(driver, testid: str, within=None):
    from selenium.webdriver.common.by import By

    return (within or driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def problems_in(log: list[dict]) -> list[str]:
    return [e["message"] for e in log if e["level"] in ("SEVERE", "WARNING")]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 800), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def canvas_is_drawn(driver, el) -> bool:
    """A canvas under ``el`` has a size and pixels that are not all the same."""
    return driver.execute_script("""
        for (const c of arguments[0].querySelectorAll('canvas')) {
          if (!c.width || !c.height) continue;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 4; i < d.length; i += 4)
            if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) return true;
        }
        return false;""", el)


def test_dashboard_from_disk(browser, ui_outputs):
    out = ui_outputs.batch
    log = open_page(browser, (out / "index.html").as_uri(), "session-row")
    assert problems_in(log) == []
    summary = json.loads((out / "summary.json").read_text())
    rows = by_testid(browser, "session-row")
    assert len(rows) == len(summary["sessions"]) == 4
    statuses = sorted(r.get_attribute("data-status") for r in rows)
    assert statuses == sorted(s["status"] for s in summary["sessions"])
    badges = [by_testid(browser, "badge", r)[0].text for r in rows]
    assert sum("E_UNREADABLE" in b or "failed" in b.lower() for b in badges) == 1
    reasons = [e.text for e in by_testid(browser, "row-reason")]
    assert any("a.wav" in t and "not a readable audio file" in t for t in reasons)
    totals = by_testid(browser, "totals")[0].text
    assert "3" in totals and "1" in totals
    screenshot(browser, "dashboard.png")


def test_dashboard_sorts_and_filters(browser, ui_outputs):
    from selenium.webdriver.common.by import By

    open_page(browser, (ui_outputs.batch / "index.html").as_uri(), "session-row")
    box = by_testid(browser, "filter")[0]
    box.send_keys("E_UNREADABLE")
    rows = by_testid(browser, "session-row")
    assert [r.get_attribute("data-status") for r in rows] == ["failed"]
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)  # as a person clears it (React sees the key events)
    assert len(by_testid(browser, "session-row")) == 4
    header = next(h for h in browser.find_elements(By.CSS_SELECTOR, '[data-testid="sessions"] th')
                  if h.text.strip().lower().startswith("session"))
    names = [r.find_elements(By.CSS_SELECTOR, "td")[0].text for r in by_testid(browser, "session-row")]
    header.click()
    again = [r.find_elements(By.CSS_SELECTOR, "td")[0].text for r in by_testid(browser, "session-row")]
    if again == names:
        header.click()
        again = [r.find_elements(By.CSS_SELECTOR, "td")[0].text for r in by_testid(browser, "session-row")]
    assert len(again) == 4 and again == list(reversed(names))


def _shown_number(text: str) -> float | None:
    m = re.search(r"[-+]?\d+(?:\.\d+)?", text.replace("\u2212", "-"))
    return float(m.group(0)) if m else None


def _decimals(text: str) -> int:
    m = re.search(r"\d+(?:\.(\d+))?", text)
    return len(m.group(1) or "") if m else 0


def _report_value(target: dict, name: str, band: str | None, field: str) -> float | None:
    """The report's number behind a compliance cell, in the unit the page shows it in."""
    key = {"wanted": "ceiling" if name == "true_peak_dbtp" else "target",
           "tolerance": "tolerance_rel" if name == "spectral_centroid_hz" else "tolerance",
           "pre_master": "pre_master", "final": "final",
           "error": "error_rel" if name == "spectral_centroid_hz" else "error"}[field]
    v = target.get(key)
    if isinstance(v, dict):
        v = v.get(band)
    if v is None:
        return None
    percent = (name == "band_balance" and field != "tolerance") or (name == "spectral_centroid_hz"
                                                                     and field in ("tolerance", "error"))
    if name == "band_balance" and field == "tolerance":
        percent = True
    return 100 * v if percent else v


def test_every_session_view_renders_and_shows_the_reports_numbers(browser, ui_outputs):
    out = ui_outputs.batch
    checked = 0
    for report_path in sorted(out.glob("*/report.json")):
        record = json.loads(report_path.read_text())
        log = open_page(browser, (report_path.parent / "report.html").as_uri(), "status-badge")
        assert problems_in(log) == [], report_path
        mix = record["mix"]
        if mix is None:
            reason = by_testid(browser, "failure-reason")[0].text
            assert record["code"] in reason or record["code"] in by_testid(browser, "status-badge")[0].text
            assert "not a readable audio file" in reason
            continue
        settings = json.loads((report_path.parent / "settings.json").read_text())
        assert len(by_testid(browser, "channel-strip")) == len(settings["stems"])
        assert len(by_testid(browser, "master-strip")) == 1
        for chart in ("chart-loudness", "chart-spectrum"):
            el = by_testid(browser, chart)[0]
            assert canvas_is_drawn(browser, el), chart
        assert by_testid(browser, "chart-balance")[0].size["height"] > 50
        curves = [e.get_attribute("d") for e in browser.find_elements("css selector", '[data-testid="eq-curve"] path')]
        assert len([d for d in curves if d and len(d) > 20]) >= len(settings["stems"])
        # the compliance table: each number is the report's, to the digits shown
        cells = 0
        for row in by_testid(browser, "target-row"):
            target_name = row.get_attribute("data-target")
            name, _, band = target_name.partition(".")
            target = mix["targets"][name]
            for cell in row.find_elements("css selector", "[data-field]"):
                field = cell.get_attribute("data-field")
                want = _report_value(target, name, band or None, field)
                shown = _shown_number(cell.text)
                if want is None:
                    assert shown is None, (target_name, field, cell.text)
                    continue
                assert shown is not None, (target_name, field, cell.text)
                assert abs(shown - want) <= 0.5 * 10 ** -_decimals(cell.text) + 1e-9, (target_name, field, cell.text,
                                                                                       want)
                cells += 1
        assert cells >= 5 * 5
        whys = [e.text for e in by_testid(browser, "why")]
        for name, t in mix["targets"].items():
            if "why" in t:
                assert any(t["why"] in w for w in whys), name
        badges = {r.get_attribute("data-target"): by_testid(browser, "badge", r)[0].text
                  for r in by_testid(browser, "target-row") if by_testid(browser, "badge", r)}
        for name, t in mix["targets"].items():
            shown = badges.get(name) or badges.get(f"{name}.low")
            want = "pass" if t["pass"] else ("FAIL" if t["hard"] else "miss")
            assert shown is not None and shown.strip() == want, (name, shown)
        # the master loop's passes: each row says whether it was a search or the final pass, as the report does
        kinds = [row.find_element("css selector", '[data-field="kind"]').text.strip()
                 for row in by_testid(browser, "master-pass")]
        assert kinds == ["final" if it["final"] else "search" for it in mix["master"]["iterations"]]
        assert kinds[-1] == "final"
        stats = by_testid(browser, "loudness-stats")[0].text
        lra = mix["final_meters"]["loudness_range_lu"]
        assert f"{lra:.1f}" in stats
        plr = mix["final_meters"]["true_peak_dbtp"] - mix["final_meters"]["integrated_lufs"]
        assert f"{plr:.1f}" in stats
        checked += 1
        if checked == 1:
            screenshot(browser, "session.png")
    assert checked == 3


def test_a_page_with_a_missing_views_file_says_so_and_draws_the_rest(browser, ui_outputs, tmp_path):
    from automix.pages import write_session_html

    name = next(p.parent.name for p in ui_outputs.batch.glob("*/views.json"))
    s = tmp_path / name
    shutil.copytree(ui_outputs.batch / name, s)
    (s / "views.json").unlink()
    write_session_html(s / "report.json")
    log = open_page(browser, (s / "report.html").as_uri(), "compliance")
    assert problems_in(log) == []
    problems = [e.text for e in by_testid(browser, "problem")]
    assert len(problems) == 1 and "views.json is missing" in problems[0]
    assert len(by_testid(browser, "target-row")) >= 5
    assert len(by_testid(browser, "channel-strip")) > 0


def test_served_app_needs_its_token_and_keeps_to_its_root(browser, ui_outputs):
    from tests.test_server import Served

    s = Served(ui_outputs.batch)
    try:
        log = open_page(browser, s.url, "session-row")
        assert problems_in(log) == []
        assert len(by_testid(browser, "session-row")) == 4
        link = by_testid(browser, "session-row")[1].find_element("css selector", "a")
        href = link.get_attribute("href")
        assert "/view/" in href and f"token={s.token}" in href
        log = open_page(browser, href, "status-badge")
        assert problems_in(log) == []
        base = s.url.split("?")[0]
        browser.get(base + "?token=wrong")
        assert "403" in browser.find_element("css selector", "body").text
        browser.get(base)
        assert "403" in browser.find_element("css selector", "body").text
        browser.get(base + f"files/%2e%2e/%2e%2e/%2e%2e/etc/passwd?token={s.token}")
        body = browser.find_element("css selector", "body").text
        assert "root:x:" not in body and ("404" in body or "Not Found" in body)
    finally:
        s.stop()


def test_served_dashboard_follows_a_running_batch(browser, ui_outputs, tmp_path):
    """A batch that is still running (its ledger has no end, its lock is held): the served dashboard polls and
    shows a session as soon as the ledger records it."""
    import fcntl

    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_server import Served

    out = tmp_path / "out"
    shutil.copytree(ui_outputs.batch, out)
    lines = (out / "ledger.jsonl").read_text().splitlines(keepends=True)
    held_back = next(line for line in lines if '"event": "result"' in line and '"status": "ok"' in line)
    (out / "ledger.jsonl").write_text("".join(line for line in lines
                                              if line is not held_back and '"event": "end"' not in line))
    (out / "summary.json").unlink()
    with open(out / ".automix" / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        s = Served(out)
        try:
            log = open_page(browser, s.url, "session-row")
            assert problems_in(log) == []
            assert len(by_testid(browser, "session-row")) == 3
            with open(out / "ledger.jsonl", "a") as f:
                f.write(held_back)
            WebDriverWait(browser, 15).until(lambda d: len(by_testid(d, "session-row")) == 4)
        finally:
            s.stop()


def test_studio_fader_move_undo_and_save(browser, ui_outputs, tmp_path):
    """A person's path through the studio: move a stem's fader by +3 dB, watch the compliance update (the
    pre-master loudness rises, the final loudness still meets its target), undo it, save, and find the saved
    mix identical to what automix render makes of the saved settings."""
    import subprocess
    import sys

    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_server import Served

    session = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, session)
    settings = json.loads((session / "mix.settings.json").read_text())
    for s in settings["stems"]:  # the stems stay where the fixture wrote them
        s["path"] = str((ui_outputs.mix / s["path"]).resolve())
    (session / "mix.settings.json").write_text(json.dumps(settings))
    s = Served(session)

    def ready(d):
        status = by_testid(d, "studio-status")
        comp = by_testid(d, "compliance")
        return status and status[0].get_attribute("data-status") == "ready" and comp \
            and comp[0].get_attribute("data-stale") == "false"

    def cell(field, target="integrated_lufs"):
        row = browser.find_element("css selector", f'[data-testid="target-row"][data-target="{target}"]')
        return row.find_element("css selector", f'[data-field="{field}"]').text

    try:
        log = open_page(browser, s.url, "compliance")
        WebDriverWait(browser, 60).until(ready)
        before = cell("pre_master")
        box = by_testid(browser, "fader-input")[0]
        gain = float(box.get_attribute("value").replace("dB", "").strip())
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(f"{gain + 3:.2f}", Keys.ENTER)
        WebDriverWait(browser, 10).until(
            lambda d: by_testid(d, "compliance")[0].get_attribute("data-stale") == "true")
        WebDriverWait(browser, 60).until(ready)
        after = cell("pre_master")
        assert float(after) > float(before) + 0.3, (before, after)
        row = browser.find_element("css selector", '[data-testid="target-row"][data-target="integrated_lufs"]')
        assert by_testid(browser, "badge", row)[0].text == "pass"
        screenshot(browser, "studio.png")
        by_testid(browser, "undo")[0].click()
        WebDriverWait(browser, 10).until(lambda d: cell("pre_master") != after or
                                         by_testid(d, "compliance")[0].get_attribute("data-stale") == "true")
        WebDriverWait(browser, 60).until(ready)
        assert cell("pre_master") == before
        by_testid(browser, "save")[0].click()
        WebDriverWait(browser, 120).until(lambda d: by_testid(d, "saved"))
        proc = subprocess.run([sys.executable, "-m", "automix", "render", "--settings",
                               str(session / "mix.settings.json"), "--output", str(tmp_path / "again.wav")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert (session / "mix.wav").read_bytes() == (tmp_path / "again.wav").read_bytes()
        # export the state on screen for a DAW: the page links the file the server wrote
        by_testid(browser, "export-dawproject")[0].click()
        WebDriverWait(browser, 60).until(lambda d: by_testid(d, "exported") or by_testid(d, "export-error"))
        assert not by_testid(browser, "export-error")
        href = by_testid(browser, "exported")[0].find_element("css selector", "a").get_attribute("href")
        assert href.split("?")[0].endswith(".dawproject")
        assert (session / ".automix-studio" / "exports" / "mix.dawproject").is_file()
        # the page's own requests carry the token; the same request without it is refused
        status = browser.execute_script(
            "return fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: '{}'}).then(r => r.status)", "/api/studio/-/undo")
        assert status == 403
        problems = problems_in(log + browser.get_log("browser"))
        assert [m for m in problems if "403 (Forbidden)" not in m] == [], "only the refused request is logged"
    finally:
        s.stop()


def test_studio_eq_by_dragging_the_curve(browser, ui_outputs, tmp_path):
    """Drag a peak's handle up on the EQ editor: one edit, the band's gain rises, and the page renders it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_server import Served

    session = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, session)
    settings = json.loads((session / "mix.settings.json").read_text())
    for s in settings["stems"]:
        s["path"] = str((ui_outputs.mix / s["path"]).resolve())
    (session / "mix.settings.json").write_text(json.dumps(settings))
    served = Served(session)

    def ready(d):
        status = by_testid(d, "studio-status")
        return status and status[0].get_attribute("data-status") == "ready" and \
            by_testid(d, "compliance")[0].get_attribute("data-stale") == "false"

    def peak2():
        state = json.loads(served.get("/api/studio/-/state")[2])
        eq = next(p for p in state["page"]["settings"]["stems"][0]["chain"] if p["plugin"] == "eq")
        return state["version"], eq["params"]["peak2_gain_db"]

    try:
        log = open_page(browser, served.url, "compliance")
        WebDriverWait(browser, 60).until(ready)
        version, before = peak2()
        by_testid(browser, "eq-open")[0].click()
        editor = WebDriverWait(browser, 10).until(lambda d: by_testid(d, "eq-drag-editor"))[0]
        handle = editor.find_element("css selector", '[data-testid="eq-handle"][data-band="peak2"]')
        ActionChains(browser).click_and_hold(handle).move_by_offset(0, -10).move_by_offset(0, -30).release().perform()
        WebDriverWait(browser, 60).until(lambda d: peak2()[0] > version and ready(d))
        _, after = peak2()
        assert after > before + 1.0, (before, after)
        assert [m for m in problems_in(log + browser.get_log("browser"))] == []
    finally:
        served.stop()


def test_an_album_batch_shows_its_album(browser, tmp_path):
    """The dashboard of a batch --album: a row per track with its intended and landed offsets."""
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 3, seed=60, duration_s=3.0)
    run_batch(tmp_path / "in", tmp_path / "out", style="country_pop", jobs=2, handle_signals=False, album=True)
    log = open_page(browser, (tmp_path / "out" / "index.html").as_uri(), "album-track")
    assert problems_in(log) == []
    info = json.loads((tmp_path / "out" / "summary.json").read_text())["album"]
    rows = by_testid(browser, "album-track")
    assert [r.get_attribute("data-session") for r in rows] == [t["session"] for t in info["tracks"]]
    for row, t in zip(rows, info["tracks"]):
        shown = row.find_element("css selector", '[data-field="offset"]').text
        assert float(shown.replace("−", "-")) == pytest.approx(t["offset_lu"], abs=0.006)
    screenshot(browser, "album.png")


def test_a_mix_toward_a_reference_shows_the_comparison(browser, tmp_path):
    """A session mixed with --reference: its page has the reference panel, each target on the reference and on
    the mix, and the octave spectra with the report's distance."""
    from automix.session import mix_command
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 2, seed=61, duration_s=10.0)
    folders = sorted(p for p in (tmp_path / "in").iterdir() if p.is_dir())

    def mix(folder, out, style, **kw):
        return mix_command(sorted(str(p) for p in folder.glob("*.wav")), style=style, targets=None, output=str(out),
                           engine="pedalboard", optimize_steps=0, test_stems=None, threads=2, verbose=False, **kw)[0]

    mix(folders[1], tmp_path / "ref.wav", "rnb_ballad", html=False)
    report = mix(folders[0], tmp_path / "mix.wav", "rock_punk", html=True, reference=str(tmp_path / "ref.wav"))
    log = open_page(browser, (tmp_path / "mix.report.html").as_uri(), "reference")
    assert problems_in(log) == []
    ref = report["reference"]
    rows = {r.get_attribute("data-target"): r for r in by_testid(browser, "reference-row")}
    assert set(rows) == {"integrated_lufs", "loudness_range_lu", "spectral_centroid_hz", "ms_ratio", "band_balance"}
    for name, field in (("spectral_centroid_hz", "reference"), ("spectral_centroid_hz", "mix"),
                        ("integrated_lufs", "mix")):
        shown = rows[name].find_element("css selector", f'[data-field="{field}"]').text
        assert float(shown.split()[0]) == pytest.approx(ref["targets"][name][field], abs=0.006 if "lufs" in name else 0.5)
    distance = by_testid(browser, "reference-spectrum-distance")[0].text
    assert float(distance.split()[0]) == pytest.approx(ref["spectrum"]["distance_db"], abs=0.006)
    assert len(by_testid(browser, "reference-octave")) == len(ref["spectrum"]["octaves_hz"])
    screenshot(browser, "reference.png")
