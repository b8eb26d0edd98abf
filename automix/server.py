"""``automix ui``: the browser views and the studio served from a local ASGI server (Starlette on uvicorn).

Safety, because a local server is reachable by every page the user's browser opens:

- bound to 127.0.0.1 by default;
- every request carries the per-launch token (``?token=`` or the ``X-Automix-Token`` header), or gets 403;
- the ``Host`` header must name this server (``127.0.0.1:PORT``, ``localhost:PORT`` or the bound host), and an
  ``Origin``, when sent, must be this server's own: a page on another site that rebinds a DNS name to
  127.0.0.1 (DNS rebinding) or posts across origins gets 403;
- files are served only from under the root folder (symbolic links resolved, no ``..``), only regular files,
  never a directory listing; GET and HEAD, and the studio's JSON POSTs.

Routes (``NAME`` is a session folder's path under the root):

- ``/`` the root's page (the batch dashboard, or the session page when the root is a session's outputs);
- ``/view/NAME`` a batch session's page; ``/api/page`` and ``/api/page/NAME`` the same pages' data as JSON (the
  dashboard polls it while the batch runs);
- ``/files/PATH`` a file under the root (the mix for the page's player, the JSON sidecars);
- ``/api/studio/NAME/...`` the studio of a session (``-``: the root's own), :mod:`automix.studio`; its routes are
  listed in ``docs/studio.md``. POSTs must be JSON (``Content-Type: application/json``, which a cross-site form
  cannot send without the browser asking first) and write only into the session's folder.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from pathlib import Path

from automix.errors import UsageError
from automix.pages import batch_page, error_page, find_reports, is_batch_dir, render_html, session_page

TOKEN_HEADER = "x-automix-token"
#: the studio name of the root folder's own session (a batch session is named by its folder)
ROOT_SESSION = "-"
#: studios that keep their strips cached (each holds its session's strips in memory, ~130 MB per 3-minute stem)
LIVE_STUDIOS = 2
#: how often the event stream looks for a change (s), and sends a keep-alive comment when idle
EVENT_POLL_S = 0.05
KEEPALIVE_S = 15.0


class Site:
    """What the server shows for one root folder (a batch ``--out`` folder or a session's outputs)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise UsageError(f"{root}: not a folder; give a batch --out folder or the folder of a mix's outputs")
        self.batch = is_batch_dir(self.root)
        reports = [] if self.batch else ([self.root / "report.json"] if (self.root / "report.json").is_file()
                                         else find_reports(self.root))
        if not self.batch and not reports:
            raise UsageError(f"{root}: not a session's or a batch's output (no report.json, *.report.json, "
                             "ledger.jsonl or summary.json); give the folder automix mix or automix batch wrote")
        self.reports = reports
        self.studios: dict = {}
        self._studio_lock = threading.Lock()

    def inside(self, rel: str) -> Path | None:
        """``rel`` resolved under the root, or ``None`` when it would leave it."""
        if "\x00" in rel:
            return None
        p = (self.root / rel).resolve()
        return p if p == self.root or self.root in p.parents else None

    def file_link(self, p: Path) -> str | None:
        p = p.resolve()
        if not p.is_file() or self.root not in p.parents:
            return None
        return "/files/" + p.relative_to(self.root).as_posix()

    def session_report(self, name: str | None) -> Path | None:
        """The report of the root's session (``name`` None or ``-``) or of a batch session, if there is one."""
        if name in (None, ROOT_SESSION):
            return None if self.batch else self.reports[0]
        folder = self.inside(name) if self.batch else None
        if folder is None or folder == self.root or not (folder / "report.json").is_file():
            return None
        return folder / "report.json"

    def page(self, name: str | None) -> dict:
        """The page data of the root (``name`` None) or of a batch session; session pages carry their studio."""
        if name is None and self.batch:
            return batch_page(self.root, href=lambda s: f"/view/{s}", live={"api": "/api/page"})
        report = self.session_report(name)
        if report is None:
            return error_page(f"{name}: no session of this batch has that name; go back to the dashboard.")
        page = session_page(report, dashboard="/" if self.batch else None, link=self.file_link)
        if page["report"] is not None:
            page["studio"] = {"api": f"/api/studio/{name or ROOT_SESSION}"}
        return page

    def studio(self, name: str):
        """The studio of a session, opened on first use (one per session for the server's life)."""
        from automix.studio import Studio

        with self._studio_lock:
            if name not in self.studios:
                report = self.session_report(name)
                if report is None:
                    raise UsageError(f"{name}: no session of this folder has that name")
                self.studios[name] = Studio(report)
            # most recently used last; beyond LIVE_STUDIOS the older ones give their strip caches back
            self.studios[name] = self.studios.pop(name)
            for old in list(self.studios.values())[:-LIVE_STUDIOS]:
                old.drop_caches()
            return self.studios[name]


def build_app(root: str | os.PathLike, token: str, *, host: str = "127.0.0.1", port: int = 8765,
              stopping: threading.Event | None = None):
    """The Starlette app serving ``root`` to requests that carry ``token``, addressed to ``host:port``;
    ``stopping`` ends the event streams (set when the server shuts down)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    from automix.errors import AutomixError

    site = Site(root)
    stopping = stopping or threading.Event()
    hosts = {f"{h}:{port}" for h in ("127.0.0.1", "localhost", host)}
    origins = {f"http://{h}" for h in hosts}

    def refuse(request) -> PlainTextResponse | None:
        if request.headers.get("host", "") not in hosts:
            return PlainTextResponse("403: wrong Host header (this server answers only to itself)\n", 403)
        origin = request.headers.get("origin")
        if origin is not None and origin not in origins:
            return PlainTextResponse("403: cross-origin request refused\n", 403)
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER, "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse("403: missing or wrong token; open the URL automix ui printed\n", 403)
        return None

    def guarded(handler):
        async def endpoint(request):
            return refuse(request) or handler(request)
        return endpoint

    def root_page(request):
        return HTMLResponse(render_html(site.page(None)))

    def session_view(request):
        return HTMLResponse(render_html(site.page(request.path_params["name"])))

    def api_root(request):
        return JSONResponse(site.page(None))

    def api_session(request):
        return JSONResponse(site.page(request.path_params["name"]))

    def files(request):
        p = site.inside(request.path_params["path"])
        if p is None or not p.is_file():
            return PlainTextResponse("404: no such file under the served folder\n", 404)
        return FileResponse(p)

    def studio_of(request):
        return site.studio(request.path_params["name"])

    def answer_error(e: Exception) -> JSONResponse:
        code = getattr(e, "code", "E_USAGE")
        status = 409 if isinstance(e, UsageError) else 400
        return JSONResponse({"error": str(e), "code": code}, status)

    async def open_studio(request):
        """``(studio, None)`` for a request that passes the checks, else ``(None, the answer to send)``."""
        bad = refuse(request)
        if bad is not None:
            return None, bad
        try:
            return await run_in_threadpool(studio_of, request), None
        except AutomixError as e:
            return None, answer_error(e)

    def studio_get(handler):
        async def endpoint(request):
            studio, answer = await open_studio(request)
            if studio is None:
                return answer
            try:
                return await run_in_threadpool(handler, studio, request)
            except AutomixError as e:
                return answer_error(e)
        return endpoint

    def studio_post(handler):
        async def endpoint(request):
            bad = refuse(request)
            if bad is not None:
                return bad
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return JSONResponse({"error": "send JSON (Content-Type: application/json)", "code": "E_USAGE"}, 415)
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "the request body is not JSON", "code": "E_USAGE"}, 400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "the request body must be a JSON object", "code": "E_USAGE"}, 400)
            studio, answer = await open_studio(request)
            if studio is None:
                return answer
            try:
                return JSONResponse(await run_in_threadpool(handler, studio, body))
            except AutomixError as e:
                return answer_error(e)
        return endpoint

    def base(request) -> str:
        return f"/api/studio/{request.path_params['name']}"

    def state(studio, request):
        prefix = base(request)
        return JSONResponse(studio.state(audio_url=lambda n: f"{prefix}/audio/{n}"))

    def audio(studio, request):
        path = studio.audio_path(request.path_params["audio"])
        if path is None or not path.is_file():
            return PlainTextResponse("404: no such audio in this studio\n", 404)
        return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    async def events(request):
        studio, answer = await open_studio(request)
        if studio is None:
            return answer

        async def stream():
            seen, idle = -1, 0.0
            while not stopping.is_set():
                events = studio.events_since(seen)
                for event in events:
                    seen = event["version"]
                    yield f"data: {json.dumps(event, allow_nan=False, default=str)}\n\n"
                if events:
                    idle = 0.0
                elif idle >= KEEPALIVE_S:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(EVENT_POLL_S)
                idle += EVENT_POLL_S

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def need(body: dict, key: str, kind):
        value = body.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise UsageError(f"the request needs {key!r} ({getattr(kind, '__name__', 'value')})")
        return value

    def reference_path(rel: str) -> Path:
        """A reference file the page names: only a file under the served folder."""
        p = site.inside(rel.lstrip("/"))
        if p is None:
            raise UsageError(f"{rel}: not under the served folder; copy the reference there")
        if not p.is_file():
            raise UsageError(f"{rel}: no such file under the served folder")
        return p

    post_routes = {
        "edit": lambda st, b: {"version": st.edit(need(b, "settings", dict))},
        "targets": lambda st, b: {"version": st.set_targets(need(b, "targets", dict))},
        "style": lambda st, b: {"version": st.switch_style(need(b, "style", str))},
        "undo": lambda st, b: {"version": st.undo()},
        "redo": lambda st, b: {"version": st.redo()},
        "monitor": lambda st, b: {"version": st.monitor(list(b.get("muted") or []), list(b.get("soloed") or []))},
        "optimise": lambda st, b: {"version": st.start_optimise(need(b, "steps", int))},
        "optimise/stop": lambda st, b: (st.stop_optimise(), {"stopping": True})[1],
        "optimise/apply": lambda st, b: {"version": st.apply_optimise()},
        "save": lambda st, b: {"saved": st.save()},
        "export": lambda st, b: {"files": [site.file_link(Path(p)) for p in st.export(
            need(b, "kind", str), list(b.get("muted") or []), list(b.get("soloed") or []))]},
        "reference": lambda st, b: {"version": st.set_reference(reference_path(need(b, "path", str)))},
    }

    routes = [
        Route("/", guarded(root_page), methods=["GET", "HEAD"]),
        Route("/api/studio/{name:path}/state", studio_get(state), methods=["GET"]),
        Route("/api/studio/{name:path}/events", events, methods=["GET"]),
        Route("/api/studio/{name:path}/audio/{audio}", studio_get(audio), methods=["GET", "HEAD"]),
        *[Route(f"/api/studio/{{name:path}}/{action}", studio_post(handler), methods=["POST"])
          for action, handler in post_routes.items()],
        Route("/view/{name:path}", guarded(session_view), methods=["GET", "HEAD"]),
        Route("/api/page", guarded(api_root), methods=["GET", "HEAD"]),
        Route("/api/page/{name:path}", guarded(api_session), methods=["GET", "HEAD"]),
        Route("/files/{path:path}", guarded(files), methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes)


def serve(root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0, open_browser: bool = True,
          announce=print) -> None:
    """Serve ``root`` until Ctrl-C: the URL (with its token) is announced first, then the browser opens.

    ``port`` 0 takes a free port. Raises :class:`~automix.errors.UsageError` for a root that is no output of
    automix or a port that cannot be bound.
    """
    import socket

    import uvicorn

    Site(root)  # a wrong folder fails before a socket is opened
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog from the moment the URL is printed
    except OSError as e:
        sock.close()
        raise UsageError(f"{host}:{port}: cannot listen there ({e.strerror or e}); pick another --port") from None
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/?token={token}"
    stopping = threading.Event()
    app = build_app(root, token, host=host, port=port, stopping=stopping)
    announce(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):  # end the pages' event streams, or shutdown waits for them
            stopping.set()
            super().handle_exit(sig, frame)

    server = Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        stopping.set()
        sock.close()
