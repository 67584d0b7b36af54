"""Screenshots and traces of a task, kept on disk under ``<artifacts_dir>/<task_id>/``.

Names carry the attempt, the order and the step, so a directory listing is the story of a run::

    a1-01-open-product.jpg     attempt 1, first screenshot, step "open-product"
    a1-02-add-to-cart.jpg
    a1-trace.zip               attempt 1's Playwright trace (``playwright show-trace``)
    a2-01-open-product.jpg

Screenshots are JPEG (quality ``JPEG_QUALITY``) of the viewport: Chromium encodes one in a third
of a PNG's time at a third of its size, and a purchase takes five (``bench/README.md``). Files
named ``.png`` by older versions are still listed and served.

Files are created 0600 and directories 0700: a trace or a screenshot is readable by the worker's
user only, and served to its owner through the webapp. Traces are recorded without what a bot
types inside ``ctx.secret_input()`` (see ``workers.tracing``).

``prune()`` keeps the newest ``keep_tasks`` task directories and deletes traces older than
``traces_keep_days`` (and parts of traces a crash left behind). The synchronous methods touch the
disk; call ``list``/``delete``/``prune`` through ``asyncio.to_thread`` from the event loop when
the directory may be large (``save_screenshot`` already does its file work off the loop).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Error as PlaywrightError

from workers.disk import DISK
from workers.tracing import leftover_part, private_dir, write_private

if TYPE_CHECKING:
    from playwright.async_api import Page

log = logging.getLogger(__name__)

ArtifactKind = Literal["screenshot", "trace"]

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_SCREENSHOT = re.compile(r"a(?P<attempt>\d+)-(?P<seq>\d+)-(?P<step>[a-z0-9-]+)\.(?:jpg|png)")
_TRACE = re.compile(r"a(?P<attempt>\d+)-trace\.zip")
_SEQ_CACHE_SIZE = 1024  # (task, attempt) counters remembered in memory
JPEG_QUALITY = 80  # text and prices stay sharp; ≈ 26 KB for a demo-store page (PNG ≈ 72 KB)


@dataclass(frozen=True)
class Artifact:
    name: str  # file name inside the task's directory
    kind: ArtifactKind
    step: str | None  # slug of the step label; None for traces
    path: Path
    created_at: datetime  # file's modification time, UTC
    attempt: int | None = None


def slugify(label: str, *, max_len: int = 40) -> str:
    """``"Add to cart!"`` → ``"add-to-cart"``; empty → ``"step"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:max_len].rstrip("-")
    return slug or "step"


class ArtifactStore:
    def __init__(
        self,
        root: Path,
        keep_tasks: int = 500,
        traces_keep_days: float = 7,
        *,
        keep_days: float | None = None,
        max_mb: float | None = None,
    ) -> None:
        self.root = Path(root)
        self.keep_tasks = keep_tasks
        self.traces_keep_days = traces_keep_days
        self.keep_days = keep_days  # a task directory untouched for longer goes
        self.max_mb = max_mb  # above this in all, the least recently written task directories go
        self._seq: OrderedDict[tuple[str, int], int] = OrderedDict()

    # ----------------------------------------------------------------- paths

    def task_dir(self, task_id: str) -> Path:
        """The task's directory (not created). Raises ``ValueError`` for an unsafe id."""
        if not _SAFE_ID.fullmatch(task_id) or ".." in task_id:
            raise ValueError(f"unsafe task id {task_id!r}")
        return self.root / task_id

    def trace_path(self, task_id: str, *, attempt: int) -> Path:
        """Where attempt ``attempt``'s trace goes (``a1-trace.zip``); the directory may not exist yet."""
        return self.task_dir(task_id) / f"a{attempt}-trace.zip"

    def path_for(self, task_id: str, name: str) -> Path | None:
        """The file ``name`` of the task, or None when it is missing or not safely inside the task dir."""
        try:
            directory = self.task_dir(task_id)
        except ValueError:
            return None
        if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
            return None
        path = directory / name
        try:
            resolved = path.resolve(strict=True)
            if not resolved.is_relative_to(directory.resolve(strict=True)) or not resolved.is_file():
                return None
        except (OSError, RuntimeError):
            return None
        return path

    # ----------------------------------------------------------------- writing

    async def save_screenshot(
        self, task_id: str, page: Page, label: str, *, attempt: int, timeout_ms: float = 10_000
    ) -> Artifact | None:
        """A JPEG of the page's viewport named ``a<attempt>-<seq>-<slug>.jpg``.

        Never raises for the page's sake: a closed page, a dead browser, a screenshot that takes
        longer than ``timeout_ms`` or a disk error log a warning and return None.
        """
        directory = self.task_dir(task_id)
        step = slugify(label)
        path: Path | None = None
        try:
            seq = await self._next_seq(task_id, attempt)
            name = f"a{attempt}-{seq:02d}-{step}.jpg"
            path = directory / name
            if page.is_closed():
                log.info("screenshot %r of task %s skipped: the page is closed", label, task_id)
                return None
            image = await asyncio.wait_for(
                page.screenshot(type="jpeg", quality=JPEG_QUALITY, timeout=timeout_ms), timeout_ms / 1000 + 1
            )
            await asyncio.to_thread(write_private, path, image)
            stat = await asyncio.to_thread(path.stat)
        except OSError as exc:
            DISK.failed(f"screenshot {label!r} of task {task_id}", exc)
            if path is not None:  # a file cut short (a full disk) is never listed
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(path.unlink, True)
            return None
        except (PlaywrightError, TimeoutError) as exc:
            log.warning("screenshot %r of task %s not taken: %s", label, task_id, exc)
            return None
        DISK.succeeded()
        return Artifact(
            name=name,
            kind="screenshot",
            step=step,
            path=path,
            created_at=datetime.fromtimestamp(stat.st_mtime, UTC),
            attempt=attempt,
        )

    async def _next_seq(self, task_id: str, attempt: int) -> int:
        key = (task_id, attempt)
        if key not in self._seq:
            highest = await asyncio.to_thread(self._prepare, task_id, attempt)
            self._seq.setdefault(key, highest)  # a concurrent call may have set it meanwhile
        # from here on no await: the number is reserved atomically for this call
        self._seq[key] += 1
        self._seq.move_to_end(key)
        while len(self._seq) > _SEQ_CACHE_SIZE:
            self._seq.popitem(last=False)
        return self._seq[key]

    def _prepare(self, task_id: str, attempt: int) -> int:
        """Make the task's directory; the highest screenshot number of ``attempt`` already in it."""
        directory = self.task_dir(task_id)
        if not self.root.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_dir(directory)
        highest = 0
        for entry in directory.iterdir():
            m = _SCREENSHOT.fullmatch(entry.name)
            if m and int(m["attempt"]) == attempt:
                highest = max(highest, int(m["seq"]))
        return highest

    # ----------------------------------------------------------------- reading

    def list(self, task_id: str) -> builtins.list[Artifact]:
        """The task's screenshots and traces, oldest first; other files are ignored."""
        try:
            directory = self.task_dir(task_id)
            entries = builtins.list(directory.iterdir())
        except (ValueError, OSError):
            return []
        found: builtins.list[tuple[int, int, int, Artifact]] = []
        for entry in entries:
            shot = _SCREENSHOT.fullmatch(entry.name)
            trace = _TRACE.fullmatch(entry.name)
            match = shot or trace
            if match is None:
                continue
            try:
                stat = entry.stat()
            except OSError:  # deleted meanwhile
                continue
            if not entry.is_file() or stat.st_size == 0:  # 0 bytes: a write that failed
                continue
            attempt = int(match["attempt"])
            artifact = Artifact(
                name=entry.name,
                kind="screenshot" if shot else "trace",
                step=shot["step"] if shot else None,
                path=entry,
                created_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                attempt=attempt,
            )
            # creation order: by attempt, screenshots by number, the attempt's trace (saved when
            # its page closes) after them
            seq = int(shot["seq"]) if shot else 1 << 30
            found.append((stat.st_mtime_ns, attempt, seq, artifact))
        found.sort(key=lambda item: (item[1], item[2], item[0]))
        return [item[3] for item in found]

    # ----------------------------------------------------------------- removing

    def delete(self, task_id: str) -> None:
        """Remove all artifacts of a task (no error when there are none)."""
        directory = self.task_dir(task_id)
        shutil.rmtree(directory, ignore_errors=True)
        for key in [k for k in self._seq if k[0] == task_id]:
            del self._seq[key]

    def keep_only(self, task_id: str, attempt: int, keep: builtins.list[str]) -> int:
        """Delete attempt ``attempt``'s screenshots and trace but the files named in ``keep`` (a
        waiting monitor keeps its last check's screenshot only); how many went."""
        removed = 0
        for artifact in self.list(task_id):
            if artifact.attempt == attempt and artifact.name not in keep:
                with contextlib.suppress(OSError):
                    artifact.path.unlink()
                    removed += 1
        return removed

    def prune(self) -> int:
        """Keep the ``keep_tasks`` most recently written task directories, none untouched for more
        than ``keep_days``, and no more than ``max_mb`` in all (the least recently written go
        first); in them the traces younger than ``traces_keep_days``. Returns how many
        directories went."""
        try:
            dirs = [d for d in self.root.iterdir() if d.is_dir() and not d.is_symlink()]
        except OSError:
            return 0
        dated: builtins.list[tuple[int, Path]] = []
        for d in dirs:
            with contextlib.suppress(OSError):
                dated.append((d.stat().st_mtime_ns, d))
        dated.sort(key=lambda item: item[0], reverse=True)
        for _, d in dated[: self.keep_tasks]:  # after reading their times: deleting touches them
            self._prune_traces(d)
        doomed = [d for _, d in dated[self.keep_tasks :]]
        kept = dated[: self.keep_tasks]
        if self.keep_days is not None:  # by age
            cutoff = (time.time() - self.keep_days * 86_400) * 1e9
            doomed += [d for mtime, d in kept if mtime < cutoff]
            kept = [(mtime, d) for mtime, d in kept if mtime >= cutoff]
        if self.max_mb is not None:  # by total size: the least recently written go first
            sizes = [(d, _size(d)) for _, d in kept]
            total = sum(size for _, size in sizes)
            limit = self.max_mb * 2**20
            for d, size in reversed(sizes):
                if total <= limit:
                    break
                doomed.append(d)
                total -= size
        for d in doomed:
            shutil.rmtree(d, ignore_errors=True)
            for key in [k for k in self._seq if k[0] == d.name]:
                del self._seq[key]
        return len(doomed)

    def _prune_traces(self, directory: Path) -> None:
        """Delete the directory's traces older than ``traces_keep_days`` (its screenshots stay),
        and parts of traces older than a day (an attempt lasts minutes; a crash left them)."""
        now = time.time()
        try:
            entries = builtins.list(directory.iterdir())
        except OSError:
            return
        for entry in entries:
            if _TRACE.fullmatch(entry.name):
                keep_s = self.traces_keep_days * 86_400
            elif leftover_part(entry.name):
                keep_s = 86_400
            else:
                continue
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > keep_s:
                    entry.unlink()


def _size(directory: Path) -> int:
    """Bytes of the files in ``directory`` (one level: a task directory has no subdirectories)."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            with contextlib.suppress(OSError):
                total += entry.stat().st_size
    return total
