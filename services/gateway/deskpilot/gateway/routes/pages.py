"""The page and its files: `/` and `/sessions/…` are the one page (it routes itself),
`/static/…` its modules and styles, `/vendor/…` the noVNC modules `make` vendors from
npm. None needs a token: the page holds no data, it asks the API for it."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from websockets.http11 import Response

from deskpilot.gateway.http import PAGE_POLICY, Refusal, respond
from deskpilot.gateway.routes import Context, Route

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}
# The noVNC modules change only with `make web-deps`; the page's own files with a
# checkout, so the browser asks again (and gets 304-free small files) each load.
_VENDOR_CACHE = "public, max-age=3600"


def file_response(root: Path, relative: str, cache: str = "no-cache") -> Response:
    """The file `relative` below `root`; 404 for anything else (no `..`, no folders)."""
    parts = relative.split("/")
    if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise Refusal(404, f"no file {relative!r}")
    path = root.joinpath(*parts)
    try:
        resolved = path.resolve(strict=True)
        if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
            raise FileNotFoundError
        data = resolved.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise Refusal(404, f"no file {relative!r}") from None
    guessed = mimetypes.guess_type(path.name)[0]
    kind = _TYPES.get(path.suffix) or guessed or "application/octet-stream"
    headers = {"Content-Security-Policy": PAGE_POLICY} if path.suffix == ".html" else {}
    return respond(200, data, kind, headers=headers, cache=cache)


async def page(ctx: Context) -> Response:
    return file_response(ctx.app.web_dir, "index.html")


async def static(ctx: Context) -> Response:
    return file_response(ctx.app.web_dir / "static", ctx.params["file"])


async def vendor(ctx: Context) -> Response:
    root = ctx.app.vendor_dir
    if not root.is_dir():
        raise Refusal(404, "noVNC is not vendored here: run `make web-deps`")
    return file_response(root, ctx.params["file"], cache=_VENDOR_CACHE)


ROUTES = [
    Route("page", r"/|/sessions/[A-Za-z0-9_-]{1,256}(/replay)?", http=page),
    Route("static", r"/static/(?P<file>[A-Za-z0-9_./-]{1,200})", http=static),
    Route("vendor", r"/vendor/(?P<file>[A-Za-z0-9_./-]{1,300})", http=vendor),
]
