"""Printable PDFs of the entry page and the league pages, for a committee that files paper.

Debian's Chromium prints each page headless (print CSS in site.css) from the built site, offline;
without chromium on PATH there are no PDFs and the site shows no PDF links. One browser prints every
page in one tab, driven over the DevTools protocol on a pipe: a browser start costs ~3 s.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from pathlib import Path

PDF_DIR = "pdf"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=760,1100",
    "--remote-debugging-pipe",
)
SETTLE = "document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))"
"""After the load event (charts drawn by then): fonts in, two frames painted, then print."""
PRINT_OPTIONS = {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}
"""`--print-to-pdf --no-pdf-header-footer`'s settings: the page size and margins come from site.css."""
PRINT_TIMEOUT = 120
"""Seconds for one page; past it the page is reported and the browser restarted for the rest."""
CLOSE_TIMEOUT = 5
PIPE_IN, PIPE_OUT = 3, 4
"""The file descriptors on which `--remote-debugging-pipe` reads commands and writes replies."""
NO_CHROMIUM = "chromium is not on PATH: the report site has no PDFs"


def chromium() -> str | None:
    """The chromium executable on PATH, or None."""
    return shutil.which("chromium")


def pdf_note() -> str:
    """The run's one line when there will be no PDFs (chromium missing), else ''."""
    return "" if chromium() else NO_CHROMIUM


def pdf_name(key: str, lang: str) -> str:
    return f"{key}_{lang}.pdf"


class BrowserError(Exception):
    """The browser exited, hung or broke the protocol: the page is lost and the browser is not reused."""


class PageError(Exception):
    """The browser refused this page (no such file, a failed print); the next page can still be printed."""


class Browser:
    """One headless chromium and its DevTools pipe: NUL-terminated JSON messages over fds 3 (in) and 4 (out)."""

    def __init__(self, executable: str, profile: str) -> None:
        to_browser, from_browser = os.pipe(), os.pipe()
        child_in = fcntl.fcntl(to_browser[0], fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser[1], fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_browser[0], from_browser[1]):
            os.close(fd)
        self._send, self._receive = to_browser[1], from_browser[0]
        self._buffer = bytearray()
        self._events: list[dict] = []
        self._next_id = 0
        self._target = self._session = ""
        try:
            self.pid = os.posix_spawn(
                executable,
                [executable, *CHROMIUM_ARGS, f"--user-data-dir={profile}"],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, child_in, PIPE_IN),
                    (os.POSIX_SPAWN_DUP2, child_out, PIPE_OUT),
                ],
                setsid=True,
            )
        except OSError:
            self._close_pipes()
            raise BrowserError("chromium could not be started") from None
        finally:
            os.close(child_in)
            os.close(child_out)

    def call(self, method: str, params: dict | None = None, session: str = "", deadline: float = 0.0) -> dict:
        """Send one command and wait for its reply; an error reply raises PageError."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._send, data) :]
        except OSError:
            raise BrowserError("chromium closed its pipe") from None
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise PageError(f"{method}: {reply['error'].get('message', 'failed')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, event: str, session: str, deadline: float) -> dict:
        """The first `event` of `session`, including those that arrived while waiting for a reply."""
        while True:
            for index, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    del self._events[: index + 1]
                    return message.get("params", {})
            self._events.append(self._read(deadline))

    def _read(self, deadline: float) -> dict:
        start = 0
        while (end := self._buffer.find(b"\0", start)) < 0:
            start = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._receive], [], [], remaining)[0]:
                raise BrowserError("chromium did not answer in time")
            chunk = os.read(self._receive, 1 << 20)
            if not chunk:
                raise BrowserError("chromium exited")
            self._buffer += chunk
        message = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        try:
            return json.loads(message)
        except ValueError:
            raise BrowserError("chromium sent an unreadable message") from None

    def print_page(self, page: Path, pdf: Path) -> None:
        """Load `page` in the tab, let its scripts run and print it to `pdf`.

        One tab serves every page: its renderer keeps plotly.js compiled, half the CPU of a tab per
        page. A page the browser refuses gets the next page a fresh tab.
        """
        deadline = time.monotonic() + PRINT_TIMEOUT
        try:
            session = self._session or self._open_tab(deadline)
            navigated = self.call("Page.navigate", {"url": page.resolve().as_uri()}, session, deadline)
            if navigated.get("errorText"):
                raise PageError(f"navigation failed: {navigated['errorText']}")
            self.wait_for("Page.loadEventFired", session, deadline)
            self.call("Runtime.evaluate", {"expression": SETTLE, "awaitPromise": True}, session, deadline)
            printed = self.call("Page.printToPDF", PRINT_OPTIONS, session, deadline)
            pdf.write_bytes(base64.b64decode(printed["data"]))
        except PageError:
            self._close_tab()
            raise
        finally:
            self._events.clear()

    def _open_tab(self, deadline: float) -> str:
        self._target = self.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        reply = self.call("Target.attachToTarget", {"targetId": self._target, "flatten": True}, deadline=deadline)
        self.call("Page.enable", session=reply["sessionId"], deadline=deadline)
        self._session = reply["sessionId"]
        return self._session

    def _close_tab(self) -> None:
        if self._target:
            with contextlib.suppress(PageError):
                self.call("Target.closeTarget", {"targetId": self._target}, deadline=time.monotonic() + CLOSE_TIMEOUT)
        self._target = self._session = ""

    def close(self) -> None:
        """Ask the browser to quit; kill its process group when it does not within CLOSE_TIMEOUT."""
        with contextlib.suppress(BrowserError, PageError):
            self.call("Browser.close", deadline=time.monotonic() + CLOSE_TIMEOUT)
        deadline = time.monotonic() + CLOSE_TIMEOUT
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() >= deadline:
                    _kill_group(self.pid)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.05)
        _kill_group(self.pid)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for fd in (self._send, self._receive):
            try:
                os.close(fd)
            except OSError:
                continue


def _kill_group(pid: int) -> None:
    """The browser's helpers (renderer, zygote) share its session: none outlives the print."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def print_pdfs(browser: str, jobs: list[tuple[Path, Path]]) -> list[Path]:
    """Print (page, pdf) pairs with one browser, restarted after a crash or hang; returns the PDFs not written."""
    failed: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="jianfu-chromium-") as profile:
        running: Browser | None = None
        try:
            for page, pdf in jobs:
                pdf.parent.mkdir(parents=True, exist_ok=True)
                try:
                    running = running or Browser(browser, profile)
                    running.print_page(page, pdf)
                except PageError:
                    pass
                except BrowserError:
                    if running is not None:
                        running.close()
                    running = None
                if not (pdf.is_file() and pdf.stat().st_size > 0):
                    failed.append(pdf)
        finally:
            if running is not None:
                running.close()
    return failed
