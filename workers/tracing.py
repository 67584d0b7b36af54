"""One attempt's Playwright trace, recorded so that no secret typed during it ends up in the zip.

Playwright's ``stop_chunk``/``start_chunk`` would not do: its network capture runs from
``tracing.start()`` to ``tracing.stop()`` across chunks, so a form post made between two chunks is
still in the next chunk's ``trace.network`` and ``resources/*.dat``. A secret section therefore
*stops* tracing (saving what was recorded so far as a part next to the trace) and starts it again
afterwards; nothing of the section — typed values, DOM snapshots, the request that carried them —
is recorded at all. When the trace is kept, its parts are merged into the one zip
``playwright show-trace`` opens (one ``<name>.trace``/``<name>.network`` pair per part, resources
shared) and, as a safety net, every member is checked against the attempt's ``Secrets``: a resource
holding one is dropped, as is any line of ``*.trace``/``*.network`` that holds one (logged as a
warning: it means a bot typed a secret outside ``secret_input()``).

``PageGuard`` is the secret section a bot gets as ``ctx.secret_input()``: no tracing and no step
screenshots inside it; left by an exception, it blanks the page's fields before anything else may
photograph the page, and keeps screenshots off when it could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Error as PlaywrightError

from workers.disk import DISK
from workers.redact import BLANK_FIELDS, Secrets, scrub_lines

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

log = logging.getLogger(__name__)

TraceMode = Literal["off", "on_failure", "always"]
STOP_TIMEOUT_S = 10.0  # bound for saving a trace or a part of it
PRIVATE = 0o600
_PART = re.compile(r"\.(?P<name>.+)\.part(?P<n>\d+)$")


def private_dir(path: Path) -> Path:
    """``path`` made (with its parents) and readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (never world-readable meanwhile)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), PRIVATE)
        file.write(data)


class Tracer:
    """Records a context's trace in parts; ``finish`` keeps one merged, checked zip or nothing."""

    def __init__(self, context: BrowserContext, *, mode: TraceMode, path: Path | None) -> None:
        if mode != "off" and path is None:
            raise ValueError("trace_path is required when tracing")
        self.context = context
        self.mode = mode
        self.path = Path(path).absolute() if path is not None else None
        self.secrets = Secrets()
        self.parts: list[Path] = []
        self.recording = False

    async def start(self) -> None:
        if self.mode == "off" or self.recording:
            return
        # a screencast is the costly part of a trace: only on-demand traces carry one; the failure
        # trace keeps DOM snapshots, network and actions (the step screenshots show the page)
        await self.context.tracing.start(screenshots=self.mode == "always", snapshots=True, sources=False)
        self.recording = True

    async def pause(self) -> None:
        """Stop recording; what was recorded so far is saved as the next part."""
        if not self.recording:
            return
        assert self.path is not None
        self.recording = False
        part = self.path.with_name(f".{self.path.name}.part{len(self.parts) + 1}")
        try:
            await asyncio.to_thread(private_dir, part.parent)
            await asyncio.wait_for(self.context.tracing.stop(path=part), STOP_TIMEOUT_S)
            self.parts.append(part)
        except OSError as exc:
            DISK.failed(f"trace {self.path}", exc)
        except (PlaywrightError, TimeoutError) as exc:
            log.warning("could not save a part of the trace %s: %s", self.path, exc)

    async def finish(self, *, keep: bool, alive: bool = True) -> None:
        """End the trace: merged into ``path`` when ``keep``, else thrown away. Never raises."""
        if self.recording and alive and keep:
            await self.pause()  # the last part
        elif self.recording and alive:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(self.context.tracing.stop(), STOP_TIMEOUT_S)
        self.recording = False
        parts, self.parts = self.parts, []
        try:
            if keep and parts and self.path is not None:
                dropped = await asyncio.to_thread(merge, parts, self.path, self.secrets)
                if dropped:
                    log.warning("trace %s held secret values: %d entries removed", self.path, dropped)
        except (OSError, zipfile.BadZipFile) as exc:
            if isinstance(exc, OSError):
                DISK.failed(f"trace {self.path}", exc)
            else:
                log.warning("could not save the trace to %s: %s", self.path, exc)
            if self.path is not None:  # a zip cut short (a full disk) is never listed
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(self.path.unlink, True)
        finally:
            for part in parts:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(part.unlink)


def merge(parts: list[Path], target: Path, secrets: Secrets) -> int:
    """Write the parts as one trace zip at ``target`` (mode 0600); how many secret entries went.

    One part with nothing to remove is moved into place as it is (no recompression).
    """
    pattern = secrets.pattern()
    dropped = 0
    members: dict[str, tuple[bytes, int]] = {}  # name → (data, compression)
    for n, part in enumerate(parts, 1):
        if not part.exists():
            continue
        with zipfile.ZipFile(part) as source:
            for info in source.infolist():
                name = info.filename
                if n > 1 and name.startswith("trace."):  # each part's own trace/network pair
                    name = f"trace-part{n}." + name.removeprefix("trace.")
                if name in members or info.is_dir():
                    continue
                data = source.read(info)
                if pattern is not None and pattern.search(data):
                    if not name.endswith((".trace", ".network")):
                        dropped += 1
                        continue
                    data, lines = scrub_lines(data, pattern)
                    dropped += lines
                members[name] = (data, info.compress_type)
    private_dir(target.parent)
    if len(parts) == 1 and not dropped and parts[0].exists():
        os.replace(parts[0], target)
        os.chmod(target, PRIVATE)
        return 0
    temp = target.with_name(f".{target.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "wb") as file, zipfile.ZipFile(file, "w") as out:
        for name, (data, compression) in members.items():
            out.writestr(name, data, compress_type=compression, compresslevel=1)
    os.replace(temp, target)
    return dropped


def leftover_part(name: str) -> bool:
    """Whether ``name`` is a part or temporary file of a trace (left behind by a crash)."""
    return bool(_PART.fullmatch(name)) or (name.startswith(".") and name.endswith(".zip.tmp"))


class PageGuard:
    """The secret sections of one attempt's page (``ctx.secret_input()``)."""

    def __init__(self, page: Page | None, tracer: Tracer | None) -> None:
        self.page = page
        self.tracer = tracer
        self.inside = 0  # sections open right now
        self.tainted = False  # the page may still show a typed secret

    def may_photograph(self) -> bool:
        return self.inside == 0 and not self.tainted

    @asynccontextmanager
    async def section(self) -> AsyncIterator[None]:
        """No trace, no screenshot while the block types and submits secrets."""
        self.inside += 1
        if self.tracer is not None and self.inside == 1:
            await self.tracer.pause()
        try:
            yield
        except BaseException:
            self.inside -= 1
            # the form may still be on the page, filled in: blank it, and trace nothing more
            self.tainted = not await self._blank()
            raise
        self.inside -= 1
        if self.tracer is not None and self.inside == 0 and not self.tainted:
            try:
                await self.tracer.start()
            except PlaywrightError as exc:
                log.warning("could not resume the trace after a secret section: %s", exc)

    async def _blank(self) -> bool:
        page = self.page
        if page is None or page.is_closed():
            return True
        try:
            await asyncio.wait_for(page.evaluate(BLANK_FIELDS), STOP_TIMEOUT_S)
            return True
        except (PlaywrightError, TimeoutError) as exc:
            log.info("could not blank the fields after a failed secret section: %s", exc)
            return False
