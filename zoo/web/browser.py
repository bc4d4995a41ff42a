"""One headless Chromium per environment, driven by async Playwright on a shared background
event-loop thread (so the synchronous gym-style API can step many contexts concurrently).

Launch: ``/usr/bin/chromium`` (or ``$ZOO_CHROMIUM``) with a fixed set of network-quiet flags,
falling back to Playwright's own Chromium build when that binary is missing or fails.
Each browser gets a unique ``--zoo-host=`` marker switch so its process can be found (for
crash tests and as a last-resort kill when ``close()`` hangs).
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import signal
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

from zoo.core.errors import ZooError
from zoo.core.procs import pid_alive

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # defence in depth beside request routing: no DNS lookups, no prefetching
    "--host-resolver-rules=MAP * ~NOTFOUND", "--dns-prefetch-disable",
    # request routing cannot see UDP: WebRTC may use no UDP outside a proxy (there is none), so a
    # page's RTCPeerConnection gathers no candidate, not even a host one, and reaches nothing.
    # Headless Chromium reads the first switch; the --force- one is the headed browser's.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
# Playwright's headless defaults hide scrollbars; MiniWoB's reference env shows them (a scrollable
# box's content is 15 px narrower there), so the pages keep theirs.
IGNORED_DEFAULT_ARGS = ["--hide-scrollbars"]
VIEWPORT = {"width": 500, "height": 320}  # MiniWoB's window; the task area is the top-left 160x210
# LoopThread.wait counts the time it waits in slices of WAIT_SLICE_S; one that returns later than asked by more than
# WAIT_OVERRUN_S found the process stopped (or starved of every core) and counts only what it asked for.
WAIT_SLICE_S = 0.5
WAIT_OVERRUN_S = 1.0
OBSERVE_JS = (Path(__file__).resolve().parent / "js" / "observe.js").read_text()


class LoopThread:
    """A daemon thread running one asyncio loop; ``run`` submits a coroutine and waits for it."""

    _shared: LoopThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="zoo-web-loop", daemon=True)
        self.thread.start()

    @classmethod
    def shared(cls) -> LoopThread:
        with cls._lock:
            if cls._shared is None:
                cls._shared = LoopThread()
            return cls._shared

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        return self.wait(self.submit(coro), timeout)

    def submit(self, coro: Any) -> concurrent.futures.Future:
        """Start ``coro`` on the loop and return at once (``wait`` collects it): the caller's thread
        can compute while the browsers work."""
        if threading.current_thread() is self.thread:
            raise RuntimeError("LoopThread called from inside its own loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    @staticmethod
    def wait(future: concurrent.futures.Future, timeout: float | None = None) -> Any:
        """``future``'s result, or TimeoutError once it has been waited on for ``timeout`` seconds of time the
        process ran.  A stopped process (``kill -STOP``, to lend a machine's cores to something else for a while)
        must not find every browser call timed out when it is continued: the monotonic clock ran on while nothing
        here could, so time is counted in slices and a slice that overran by more than WAIT_OVERRUN_S counts only
        the length it asked for."""
        if timeout is None:
            return future.result()
        left = float(timeout)
        while True:
            asked = min(left, WAIT_SLICE_S)
            start = time.monotonic()
            try:
                return future.result(asked)
            except concurrent.futures.TimeoutError:
                took = time.monotonic() - start
                left -= asked if took > asked + WAIT_OVERRUN_S else took
                if left <= 0:
                    future.cancel()
                    raise TimeoutError(f"browser call did not finish within {timeout:.0f}s") from None


_HOSTS: weakref.WeakSet[BrowserHost] = weakref.WeakSet()
_SHARED: dict[bool, BrowserHost] = {}  # headless -> the process-wide shared host


def _close_all_hosts() -> None:  # never leave a browser behind when Python exits
    for host in list(_HOSTS):
        try:
            host.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_close_all_hosts)


class BrowserHost:
    """Playwright + one browser; ``restart()`` replaces a crashed or hung browser."""

    def __init__(self, headless: bool = True, loop: LoopThread | None = None):
        self.headless = headless
        self.loop = loop or LoopThread.shared()
        self.marker = f"--zoo-host={uuid.uuid4().hex}"
        self._pw: Any = None
        self.browser: Any = None
        self.executable: str | None = None
        self.version = ""
        self.restarts = 0
        self.users = 0  # envs holding a shared host
        _HOSTS.add(self)

    @classmethod
    def acquire_shared(cls, headless: bool = True) -> BrowserHost:
        """The process-wide browser for envs created with ``share_browser=True`` (one Chromium,
        one context per env); ``release()`` closes it after its last user."""
        host = _SHARED.get(headless)
        if host is None:
            host = _SHARED[headless] = cls(headless=headless)
        host.users += 1
        return host

    def release(self) -> None:
        self.users -= 1
        if self.users <= 0:
            if _SHARED.get(self.headless) is self:
                del _SHARED[self.headless]
            self.close()

    # ---------------------------------------------------------------- lifecycle (async, on the loop)
    async def start(self) -> None:
        from playwright.async_api import async_playwright

        if self._pw is None:
            self._pw = await async_playwright().start()
        if self.browser is None or not self.alive:  # a shared host is started by its first user only
            await self._launch()

    async def _launch(self) -> None:
        from playwright.async_api import Error as PlaywrightError

        exe = os.environ.get("ZOO_CHROMIUM") or (DEFAULT_CHROMIUM if Path(DEFAULT_CHROMIUM).exists() else None)
        args = CHROMIUM_ARGS + [self.marker]
        tries = [exe, None] if exe else [None]
        last: Exception | None = None
        for path in tries:
            try:
                self.browser = await self._pw.chromium.launch(executable_path=path, args=args, headless=self.headless,
                                                              ignore_default_args=IGNORED_DEFAULT_ARGS)
                self.executable = path or "playwright-chromium"
                self.version = self.browser.version
                return
            except PlaywrightError as err:
                last = err
        raise ZooError(f"cannot start Chromium ({exe or 'playwright build'}): {str(last).splitlines()[0]}")

    async def new_context(self, site: Any) -> Any:
        context = await self.browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=False)
        await site.attach(context)
        await context.add_init_script(script=OBSERVE_JS)
        return context

    async def responsive(self, timeout: float) -> bool:
        """True if the browser process answers a protocol round trip within ``timeout`` seconds
        (a frozen or stopped browser keeps its pipe open, so ``alive`` alone cannot tell)."""
        if not self.alive:
            return False
        pid = self.pid()
        if pid is not None and _stopped(pid):
            return False
        try:
            session = await asyncio.wait_for(self.browser.new_browser_cdp_session(), timeout)
        except Exception:  # noqa: BLE001 - timeout or a dead connection: not responsive
            return False
        try:
            await asyncio.wait_for(session.detach(), timeout)
        except Exception:  # noqa: BLE001
            return False
        return True

    async def restart(self, graceful: bool = True) -> None:
        """Throw the browser away and launch a new one.  ``graceful=False`` (a browser that does not
        answer) kills it at once instead of first asking it to close."""
        self.restarts += 1
        await self._shutdown_browser(graceful)
        await self._launch()

    async def _shutdown_browser(self, graceful: bool = True) -> None:
        if self.browser is None:
            return
        pid = self.pid()
        browser, self.browser = self.browser, None
        if graceful and (pid is None or not _stopped(pid)):
            try:
                await asyncio.wait_for(browser.close(), 3)
            except Exception:  # noqa: BLE001 - a dead or hung browser is killed below
                pass
        if pid is not None and pid_alive(pid):
            _kill_tree(pid)
        if not graceful:  # let Playwright notice the dead connection without waiting on it for long
            try:
                await asyncio.wait_for(browser.close(), 2)
            except Exception:  # noqa: BLE001
                pass

    async def stop(self) -> None:
        await self._shutdown_browser()
        if self._pw is not None:
            try:
                await asyncio.wait_for(self._pw.stop(), 10)
            except Exception:  # noqa: BLE001
                pass
            self._pw = None

    # ---------------------------------------------------------------- state
    @property
    def alive(self) -> bool:
        if self.browser is None or not self.browser.is_connected():
            return False
        pid = self.pid()
        return pid is None or pid_alive(pid)

    def pid(self) -> int | None:
        """PID of this host's main browser process (found by its marker switch), if running."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if self.marker.encode() in cmd and not any(c.startswith(b"--type=") for c in cmd):
                return int(proc.name)
        return None

    def close(self) -> None:
        """Synchronous shutdown (safe to call twice)."""
        if self._pw is None and self.browser is None:
            return
        try:
            self.loop.run(self.stop(), timeout=30)
        except Exception:  # noqa: BLE001 - last resort: kill the process directly
            pid = self.pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            self.browser = self._pw = None


def _stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP / traced): it cannot answer anything until continued."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("T", "t")
    except OSError:
        return False


def _kill_tree(pid: int) -> None:
    """SIGKILL a browser and, when it leads its own process group (Playwright launches it
    detached), its renderer and helper processes too."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
