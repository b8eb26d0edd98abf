"""``automix ui``: the real server in its own process, spoken to over real HTTP."""
import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.parse

import pytest


class Served:
    def __init__(self, root):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "automix", "ui", str(root), "--no-browser"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.url = self.proc.stdout.readline().strip()
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        self.token = urllib.parse.parse_qs(parts.query)["token"][0]

    def get(self, path, *, token=True, headers=None, method="GET"):
        """(status, headers, body) of a raw request: the path is sent exactly as given."""
        if token is True:
            path += ("&" if "?" in path else "?") + "token=" + self.token
        elif token:
            path += ("&" if "?" in path else "?") + "token=" + token
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True)
            h = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            for k, v in h.items():
                conn.putheader(k, v)
            conn.endheaders()
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def served(ui_outputs):
    s = Served(ui_outputs.batch)
    yield s
    s.stop()


def test_first_line_is_the_local_url_with_a_token(served):
    assert served.url.startswith("http://127.0.0.1:") and served.port > 0
    assert len(served.token) >= 32


def test_the_dashboard_and_its_data(served, ui_outputs):
    status, headers, body = served.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'id="automix-page"' in body
    status, _, body = served.get("/api/page")
    page = json.loads(body)
    assert status == 200 and page["kind"] == "batch" and page["live"] == {"api": "/api/page"}
    names = sorted(p.name for p in ui_outputs.batch.iterdir() if (p / "report.json").is_file())
    assert [r["session"] for r in page["rows"]] == names
    assert all(r["href"] == f"/view/{r['session']}" for r in page["rows"])


def test_a_session_page_links_files_under_the_root(served, ui_outputs):
    page = json.loads(served.get("/api/page/broken")[2])
    assert page["status"] == "failed" and page["code"] == "E_UNREADABLE"
    ok = next(p.name for p in ui_outputs.batch.iterdir() if (p / "views.json").is_file())
    page = json.loads(served.get(f"/api/page/{ok}")[2])
    assert page["links"]["audio"] == f"/files/{ok}/mix.wav" and page["links"]["dashboard"] == "/"
    status, headers, body = served.get(page["links"]["audio"])
    assert status == 200 and body == (ui_outputs.batch / ok / "mix.wav").read_bytes()
    assert served.get(f"/view/{ok}")[0] == 200
    # an unknown session is a page that says so, not a file
    assert json.loads(served.get("/api/page/nope")[2])["kind"] == "error"


@pytest.mark.parametrize("token", [False, "wrong", ""])
def test_no_or_a_wrong_token_is_403(served, token):
    for path in ("/", "/api/page", "/files/summary.json"):
        status, _, body = served.get(path, token=token)
        assert status == 403 and b"token" in body


def test_the_token_may_come_as_a_header(served):
    assert served.get("/api/page", token=False, headers={"X-Automix-Token": served.token})[0] == 200


@pytest.mark.parametrize("headers", [{"Host": "evil.example:80"}, {"Host": "attacker.test"},
                                     {"Origin": "http://evil.example"}, {"Origin": "null"}])
def test_dns_rebinding_and_cross_origin_requests_are_403(served, headers):
    h = dict(headers)
    if "Host" not in h:
        h["Host"] = f"{served.host}:{served.port}"
    status, _, _ = served.get("/api/page", headers=h)
    assert status == 403


def test_the_own_origin_is_allowed(served):
    status, _, _ = served.get("/api/page", headers={"Origin": f"http://127.0.0.1:{served.port}"})
    assert status == 200


@pytest.mark.parametrize("path", ["/files/../../../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd",
                                  "/files/..%2f..%2fetc%2fpasswd", "/files//etc/passwd", "/files/",
                                  "/files/broken", "/view/../../etc", "/api/page/%2e%2e%2f%2e%2e%2fetc"])
def test_nothing_outside_the_root_and_no_listing(served, path):
    status, headers, body = served.get(path)
    assert b"root:x:" not in body
    if status == 200:  # a page route: it can only say that there is no such session
        text = body.decode()
        if headers["content-type"].startswith("text/html"):
            text = text.split('id="automix-page">', 1)[1].split("</script>", 1)[0].replace("<\\/", "/")
        assert json.loads(text)["kind"] == "error"
    else:
        assert status in (403, 404)


def test_a_link_out_of_the_root_is_not_followed(ui_outputs, tmp_path):
    import shutil

    root = tmp_path / "out"
    shutil.copytree(ui_outputs.batch, root, symlinks=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "leak.txt").symlink_to(secret)
    s = Served(root)
    try:
        assert s.get("/files/leak.txt")[0] == 404
        assert s.get("/files/summary.json")[0] == 200
    finally:
        s.stop()


def test_read_only(served):
    status, _, _ = served.get("/api/page", method="POST")
    assert status == 405


def test_a_folder_that_is_no_output_is_refused_before_serving(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "automix", "ui", str(tmp_path), "--no-browser"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "not a session's or a batch's output" in proc.stderr


def test_ctrl_c_stops_it_cleanly(ui_outputs):
    s = Served(ui_outputs.mix)
    assert s.get("/")[0] == 200
    code, out, err = s.stop()
    assert code == 0 and "Traceback" not in err and "stopped" in err
