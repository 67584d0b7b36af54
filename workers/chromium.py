"""Chromium itself: where it is, how it is launched, its process tree (memory, kill).

``workers.browser.BrowserPool`` drives these; the image's start-up check and the bench use
``launch_options`` and ``BASE_ARGS`` directly. No stealth, fingerprint or bot-detection evasion
flags, ever (project rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

log = logging.getLogger(__name__)

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium's headless shell (Debian's `chromium-headless-shell`, Playwright's own
# `chromium-headless-shell`): the same engine without the browser's windows and UI. It is what
# Playwright itself launches for headless Chromium, and a headless worker prefers it: its browser
# process spends ≈ 0.3 s of CPU per demo purchase where the full browser spends ≈ 0.9-1.1 s, and
# that one process serves every context of the pool (bench/README.md, issue 9).
SYSTEM_HEADLESS_SHELLS = ("chromium-headless-shell", "headless_shell")

# Flags this machine needs (root, closed network). Playwright adds its own defaults on top;
# --no-sandbox only when running as root: BrowserPool._launch passes chromium_sandbox=not root,
# and Playwright adds --no-sandbox exactly when the sandbox is off.
BASE_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def launch_options(
    executable: str, *, headless: bool = True, sandbox: bool | None = None, timeout_ms: float = 30_000
) -> dict[str, Any]:
    """Playwright's ``chromium.launch`` arguments: the one place they are built (workers, the
    image's start-up check and its test all use this).

    ``sandbox`` None: on, unless running as root (Chromium refuses root with a sandbox). The image
    sets ``TASKDECK_BROWSER_SANDBOX=false``: under Docker's default seccomp profile Chromium's
    sandbox cannot create its namespaces, so there the container (non-root user, no added
    capabilities, the default seccomp profile) is the boundary instead (docs/operations.md).
    """
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return {
        "executable_path": executable,
        "headless": headless,
        "args": list(BASE_ARGS),
        "chromium_sandbox": (not as_root) if sandbox is None else (sandbox and not as_root),
        "timeout": timeout_ms,
    }  # bound for closing a context / browser


class BrowserUnavailable(Exception):
    """No Chromium to launch. Install one with `make install` or `apt-get install -y chromium`,
    or point TASKDECK_BROWSER_PATH at a Chromium/Chrome executable."""

    def __init__(self, message: str | None = None) -> None:
        doc = " ".join((self.__doc__ or "").split())
        super().__init__(f"{message} {doc}" if message else doc)


# --------------------------------------------------------------------------- discovery


def _is_executable(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _playwright_browsers_dir() -> Path:
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env == "0":  # browsers installed inside the package
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if env:
        return Path(env)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def _bundled_chromium(*, shell: bool = False) -> str | None:
    """Playwright's own Chromium (``playwright install chromium``), if it was downloaded; with
    ``shell``, its headless shell (downloaded beside it).

    Computed like ``p.chromium.executable_path`` without starting a driver: the revision comes
    from the driver's ``browsers.json``.
    """
    name = "chromium-headless-shell" if shell else "chromium"
    try:
        import json

        from playwright._impl._driver import compute_driver_executable

        _node, cli = compute_driver_executable()
        browsers = json.loads((Path(cli).parent / "browsers.json").read_text())["browsers"]
        revision = next(b["revision"] for b in browsers if b["name"] == name)
    except Exception:  # no driver, unreadable file, unexpected layout
        return None
    if shell:
        base = _playwright_browsers_dir() / f"chromium_headless_shell-{revision}"
        patterns: tuple[str, ...] = (
            "chrome-headless-shell-*/chrome-headless-shell",
            "chrome-headless-shell-*/chrome-headless-shell.exe",
            "chrome-*/headless_shell",
            "chrome-*/headless_shell.exe",
        )
    else:
        base = _playwright_browsers_dir() / f"chromium-{revision}"
        patterns = (
            "chrome-*/chrome",
            "chrome-*/chrome.exe",
            "chrome-*/*.app/Contents/MacOS/*",
        )
    for pattern in patterns:
        for candidate in sorted(base.glob(pattern)):
            if _is_executable(candidate):
                return str(candidate)
    return None


def find_chromium(explicit: str | None = None, *, headless: bool = True) -> str | None:
    """Where the Chromium to drive is, or None.

    In order: ``explicit`` (TASKDECK_BROWSER_PATH; a path or a command name) if it exists;
    Playwright's bundled Chromium if it was installed (its headless shell first when
    ``headless``); when ``headless``, a headless shell on PATH (chromium-headless-shell,
    headless_shell); then the first of chromium, chromium-browser, google-chrome,
    google-chrome-stable on PATH. A headed browser (``headless`` False) is never a headless shell.
    """
    if explicit:
        found = shutil.which(explicit)
        if found:
            return found
        log.warning("browser path %r does not exist or is not executable; looking elsewhere", explicit)
    bundled = (headless and _bundled_chromium(shell=True)) or _bundled_chromium()
    if bundled:
        return bundled
    for name in (*SYSTEM_HEADLESS_SHELLS, *SYSTEM_CHROMIUMS) if headless else SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return None


# --------------------------------------------------------------------------- processes


def process_tree(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_mb(pid: int | None) -> float:
    total = 0
    for proc in process_tree(pid):
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return round(total / 2**20, 1)


def pss_mb(pid: int | None) -> float:
    """Proportional set size of the tree: shared pages counted once, unlike summed RSS.

    Takes ~0.1 s for a browser with five contexts (it reads smaps): call it in a thread.
    """
    total = 0
    for proc in process_tree(pid):
        try:
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants() -> set[int]:
    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children(recursive=True)}
    return set()


def kill_tree(pid: int | None) -> int:
    """SIGKILL the process ``pid`` and all its descendants (children first: a stopped or hung
    browser ignores everything else); returns how many were signalled. Reaps nothing: Playwright's
    driver, their parent, does."""
    killed = 0
    for proc in reversed(process_tree(pid)):
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
            killed += 1
    return killed


# --------------------------------------------------------------------------- launch


def resolve_executable(configured: str | None, *, headless: bool = True) -> str:
    """The Chromium to launch: ``configured`` (a path or a command name), else ``find_chromium()``;
    ``BrowserUnavailable`` when there is none."""
    if configured:
        found = shutil.which(configured)
        if not found:
            raise BrowserUnavailable(
                f"The configured browser {configured!r} does not exist or is not executable."
            )
        return found
    found = find_chromium(headless=headless)
    if not found:
        raise BrowserUnavailable("No Chromium found (Playwright's own, or chromium/google-chrome on PATH).")
    return found


async def launch(
    playwright: Playwright,
    configured: str | None,
    *,
    headless: bool,
    sandbox: bool | None,
    timeout_ms: float,
) -> tuple[Browser, int | None]:
    """Launch a Chromium over ``playwright``'s driver → (browser, pid of its browser process)."""
    executable = resolve_executable(configured, headless=headless)
    before = descendants()
    try:
        browser = await playwright.chromium.launch(
            **launch_options(executable, headless=headless, sandbox=sandbox, timeout_ms=timeout_ms)
        )
    except PlaywrightError as exc:
        # keep the error and the browser's stderr, drop the long "<launching> cmdline" line
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("<launching>")]
        detail = "\n".join(lines[:8])
        raise BrowserUnavailable(f"Chromium at {executable} failed to start: {detail}\n") from exc
    return browser, await find_pid(browser, before)


async def find_pid(browser: Browser, before: set[int]) -> int | None:
    """The browser process's pid: asked over CDP, else the new top-level child of the driver."""
    try:
        session = await browser.new_browser_cdp_session()
        try:
            info = await session.send("SystemInfo.getProcessInfo")
        finally:
            with contextlib.suppress(PlaywrightError):
                await session.detach()
        for proc in info.get("processInfo", []):
            if proc.get("type") == "browser":
                return int(proc["id"])
    except PlaywrightError as exc:
        log.debug("SystemInfo.getProcessInfo failed: %s", exc)
    new = descendants() - before
    for pid in sorted(new):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.ppid() not in new and "chrom" in " ".join(proc.cmdline()[:1]).lower():
                return pid
    log.warning("could not find the Chromium pid; memory checks are off for this browser")
    return None


# --------------------------------------------------------------------------- one browser


@dataclass(eq=False)
class Chromium:
    """One launched Chromium and what its pool knows about it."""

    browser: Browser
    pid: int | None
    contexts_total: int = 0  # contexts ever opened in it
    contexts_open: int = 0
    retiring: bool = False  # no new contexts; closed when contexts_open drops to 0
    condemned: bool = False  # hung: killed, never used again
    closed: bool = False
    pss_mb: float | None = None  # last measured

    def usable(self) -> bool:
        return not self.retiring and not self.closed and self.browser.is_connected()

    def dead(self) -> bool:
        return (
            self.condemned
            or not self.browser.is_connected()
            or (self.pid is not None and not alive(self.pid))
        )

    def kill(self) -> int:
        """SIGKILL its process tree now (it hung); how many processes were signalled."""
        return kill_tree(self.pid)

    async def shut(self, timeout: float) -> None:
        """Close it (a condemned one is only killed), and kill whatever is left after ``timeout``."""
        if not self.condemned:
            try:
                await asyncio.wait_for(self.browser.close(), timeout)
            except (PlaywrightError, TimeoutError) as exc:
                log.warning("closing Chromium pid %s failed (%s); killing it", self.pid, exc)
        if alive(self.pid):
            kill_tree(self.pid)
        if self.condemned:  # the driver forgets it once it sees the pipe closed
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.browser.close(), timeout)
        log.info("closed Chromium pid %s after %d contexts", self.pid, self.contexts_total)
