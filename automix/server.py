"""``automix ui``: the browser views served from a local ASGI server (Starlette on uvicorn), read-only.

Safety, because a local server is reachable by every page the user's browser opens:

- bound to 127.0.0.1 by default;
- every request carries the per-launch token (``?token=`` or the ``X-Automix-Token`` header), or gets 403;
- the ``Host`` header must name this server (``127.0.0.1:PORT``, ``localhost:PORT`` or the bound host), and an
  ``Origin``, when sent, must be this server's own: a page on another site that rebinds a DNS name to
  127.0.0.1 (DNS rebinding) or posts across origins gets 403;
- files are served only from under the root folder (symbolic links resolved, no ``..``), only regular files,
  never a directory listing; the only methods are GET and HEAD.

Routes (``NAME`` is a session folder's path under the root):

- ``/`` the root's page (the batch dashboard, or the session page when the root is a session's outputs);
- ``/view/NAME`` a batch session's page; ``/api/page`` and ``/api/page/NAME`` the same pages' data as JSON (the
  dashboard polls it while the batch runs);
- ``/files/PATH`` a file under the root (the mix for the page's player, the JSON sidecars).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from automix.errors import UsageError
from automix.pages import batch_page, error_page, find_reports, is_batch_dir, render_html, session_page

TOKEN_HEADER = "x-automix-token"


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

    def page(self, name: str | None) -> dict:
        """The page data of the root (``name`` None) or of a batch session."""
        if name is None and self.batch:
            return batch_page(self.root, href=lambda s: f"/view/{s}", live={"api": "/api/page"})
        if name is None:
            return session_page(self.reports[0], link=self.file_link)
        folder = self.inside(name) if self.batch else None
        if folder is None or folder == self.root or not (folder / "report.json").is_file():
            return error_page(f"{name}: no session of this batch has that name; go back to the dashboard.")
        return session_page(folder / "report.json", dashboard="/", link=self.file_link)


def build_app(root: str | os.PathLike, token: str, *, host: str = "127.0.0.1", port: int = 8765):
    """The Starlette app serving ``root`` to requests that carry ``token``, addressed to ``host:port``."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Route

    site = Site(root)
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

    routes = [
        Route("/", guarded(root_page), methods=["GET", "HEAD"]),
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
    app = build_app(root, token, host=host, port=port)
    announce(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
