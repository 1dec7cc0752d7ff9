"""The dashboard: three hand-written static files under /ui/, served with a strict CSP.

The page is a client of the admin API (same origin) and needs no build step: no inline script
or style, no external origin, so the policy below allows only this server's own files.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def _load() -> dict[str, bytes]:
    folder = resources.files("proctor.server") / "ui"
    return {name: (folder / name).read_bytes() for name in TYPES}


FILES = _load()


async def ui(request: Request) -> Response:
    """GET /ui/ and /ui/<asset>; anything else under /ui/ is a 404 (routes live in the hash)."""
    path = str(request.path_params.get("path", ""))
    if path == "":
        return RedirectResponse("/ui/", status_code=308)
    name = path.removeprefix("/") or "index.html"
    if not path.startswith("/"):  # /uifoo is not ours
        name = ""
    body = FILES.get(name)
    if body is None:
        return Response("not found\n", status_code=404, media_type="text/plain", headers=HEADERS)
    return Response(body, media_type=TYPES[name], headers=HEADERS)
