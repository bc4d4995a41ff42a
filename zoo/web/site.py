"""Serving the task files to the browser without a server.

Every request of a browser context goes through ``Site.handle`` (Playwright request routing):
URLs on ``ORIGIN`` are answered from the task directories on disk (never outside them), every
other URL -- another host, another scheme, another port -- is aborted and remembered in
``Site.blocked``.  Nothing listens on a port, and a page can reach neither the network nor the
local filesystem beyond the task files.
"""
from __future__ import annotations

import mimetypes
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zoo.web.tasks import ORIGIN, site_roots

# Text is served as UTF-8: the task files are UTF-8 and MiniWoB's pages declare no charset, so
# without one they would decode as windows-1252 (unicode-test would read "Ã–K" where the reference
# env, which loads them from file://, shows "ÖK").
_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".json": "application/json; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg"}


class Site:
    def __init__(self, roots: dict[str, Path] | None = None, origin: str = ORIGIN):
        self.origin = origin
        self.roots = {k: v.resolve() for k, v in (roots or site_roots()).items()}
        self._cache: dict[str, tuple[int, bytes, str]] = {}
        self.blocked: deque[str] = deque(maxlen=256)  # most recent blocked URLs, for tests and debugging
        self.served = 0

    def lookup(self, url: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for a URL on the origin."""
        if url in self._cache:
            return self._cache[url]
        path = unquote(urlsplit(url).path).lstrip("/")
        head, _, rest = path.partition("/")
        root = self.roots.get(head)
        result: tuple[int, bytes, str] = (404, f"not found: /{path}".encode(), "text/plain")
        if root is not None and rest:
            target = (root / rest).resolve()
            if target.is_relative_to(root) and target.is_file():
                ctype = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                result = (200, target.read_bytes(), ctype)
        self._cache[url] = result
        return result

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}/" == self.origin

    async def handle(self, route) -> None:  # playwright.async_api.Route
        url = route.request.url
        if not self.allowed(url):
            self.blocked.append(url)
            await route.abort("blockedbyclient")
            return
        status, body, ctype = self.lookup(url)
        self.served += 1
        await route.fulfill(status=status, body=body, content_type=ctype, headers={"Cache-Control": "no-store"})

    async def attach(self, context) -> None:
        """Route every request (and refuse every WebSocket) of a BrowserContext."""
        await context.route("**/*", self.handle)
        if hasattr(context, "route_web_socket"):
            await context.route_web_socket("**/*", self._refuse_socket)

    async def _refuse_socket(self, ws) -> None:
        self.blocked.append(ws.url)
        await ws.close(code=1008, reason="blocked by actionzoo")
