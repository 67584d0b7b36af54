"""ArtifactStore with screenshots taken by the real Chromium."""

from __future__ import annotations

import asyncio
import os
import stat
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from models.settings import Settings
from workers.artifacts import ArtifactStore, slugify
from workers.browser import BrowserPool, find_chromium

pytestmark = pytest.mark.timeout(60)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[BrowserPool]:
    async with BrowserPool(executable_path=find_chromium()) as pool:
        yield pool


def test_slugify() -> None:
    assert slugify("Add to cart!") == "add-to-cart"
    assert slugify("  Über  Checkout / Step 2 ") == "ber-checkout-step-2"
    assert slugify("???") == "step"
    assert len(slugify("x" * 200)) == 40


async def test_screenshots_are_saved_numbered_and_listed_with_their_step(
    pool: BrowserPool, tmp_path: Path
) -> None:
    store = ArtifactStore(tmp_path)
    async with pool.page(trace=True, trace_path=store.trace_path("task-1", attempt=1)) as page:
        await page.set_content("<h1>Product</h1><button>Add to cart</button>")
        first = await store.save_screenshot("task-1", page, "Open product", attempt=1)
        second = await store.save_screenshot("task-1", page, "Add to cart", attempt=1)
    async with pool.page() as page:
        await page.set_content("<h1>Again</h1>")
        retry = await store.save_screenshot("task-1", page, "Open product", attempt=2)

    assert first is not None and second is not None and retry is not None
    assert first.name == "a1-01-open-product.jpg"
    assert second.name == "a1-02-add-to-cart.jpg"
    assert retry.name == "a2-01-open-product.jpg"
    assert second.path == tmp_path / "task-1" / "a1-02-add-to-cart.jpg"
    assert second.path.read_bytes().startswith(JPEG_MAGIC)
    assert second.kind == "screenshot" and second.step == "add-to-cart" and second.attempt == 1

    listed = store.list("task-1")
    assert [a.name for a in listed] == [
        "a1-01-open-product.jpg",
        "a1-02-add-to-cart.jpg",
        "a1-trace.zip",
        "a2-01-open-product.jpg",
    ]
    assert [a.kind for a in listed] == ["screenshot", "screenshot", "trace", "screenshot"]
    assert [a.step for a in listed] == ["open-product", "add-to-cart", None, "open-product"]
    assert listed[1] == second
    assert listed[0].created_at.tzinfo is not None
    assert zipfile.is_zipfile(listed[2].path)
    assert store.list("no-such-task") == []

    # a new store (another worker, a restart) continues the numbering of the attempt
    again = ArtifactStore(tmp_path)
    async with pool.page() as page:
        await page.set_content("<p>confirmation</p>")
        third = await again.save_screenshot("task-1", page, "Confirmation", attempt=2)
    assert third is not None and third.name == "a2-02-confirmation.jpg"


async def test_screenshots_of_older_versions_stay_listed_and_numbered_after(
    pool: BrowserPool, tmp_path: Path
) -> None:
    store = ArtifactStore(tmp_path)
    store.task_dir("t").mkdir(parents=True)
    (store.task_dir("t") / "a1-01-open-product.png").write_bytes(PNG_MAGIC)  # an older version's
    async with pool.page() as page:
        await page.set_content("<h1>Product</h1>")
        shot = await store.save_screenshot("t", page, "Check stock", attempt=1)
    assert shot is not None and shot.name == "a1-02-check-stock.jpg"
    assert [(a.name, a.kind) for a in store.list("t")] == [
        ("a1-01-open-product.png", "screenshot"),
        ("a1-02-check-stock.jpg", "screenshot"),
    ]


async def test_concurrent_screenshots_get_distinct_numbers(pool: BrowserPool, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    async with pool.page() as page:
        await page.set_content("<p>x</p>")
        shots = await asyncio.gather(
            *(store.save_screenshot("t", page, f"s{i}", attempt=1) for i in range(4))
        )
    assert all(shots)
    assert sorted(s.name.split("-")[1] for s in shots if s) == ["01", "02", "03", "04"]
    assert len(store.list("t")) == 4


async def test_screenshot_of_a_closed_page_returns_none(pool: BrowserPool, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    async with pool.page() as page:
        await page.set_content("<p>x</p>")
    assert page.is_closed()
    assert await store.save_screenshot("t", page, "after close", attempt=1) is None
    assert store.list("t") == []


async def test_path_for_rejects_traversal(pool: BrowserPool, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    async with pool.page() as page:
        await page.set_content("<p>x</p>")
        shot = await store.save_screenshot("t1", page, "cart", attempt=1)
    assert shot is not None
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "artifacts" / "t1" / "link.png").symlink_to(tmp_path / "secret.txt")

    assert store.path_for("t1", shot.name) == shot.path
    for task_id, name in [
        ("t1", "../../secret.txt"),
        ("t1", "../t1/" + shot.name),
        ("t1", str(tmp_path / "secret.txt")),
        ("t1", "missing.png"),
        ("t1", ""),
        ("t1", ".."),
        ("t1", "link.png"),  # a symlink out of the directory
        ("..", "secret.txt"),
        ("../artifacts/t1", shot.name),
        ("/etc", "passwd"),
    ]:
        assert store.path_for(task_id, name) is None, (task_id, name)
    with pytest.raises(ValueError):
        store.task_dir("../escape")


def _make_task_dir(store: ArtifactStore, task_id: str, age_s: float) -> None:
    directory = store.task_dir(task_id)
    directory.mkdir(parents=True)
    (directory / "a1-01-step.png").write_bytes(PNG_MAGIC)
    stamp = time.time() - age_s
    os.utime(directory, (stamp, stamp))


def test_prune_keeps_the_newest_tasks(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep_tasks=2)
    assert store.prune() == 0  # nothing there yet
    for n, age in enumerate([50, 10, 40, 20, 30]):
        _make_task_dir(store, f"task-{n}", age)
    assert store.prune() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task-1", "task-3"]
    assert store.prune() == 0


def test_delete_removes_a_task(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    _make_task_dir(store, "gone", 0)
    _make_task_dir(store, "kept", 0)
    assert [a.step for a in store.list("gone")] == ["step"]
    store.delete("gone")
    store.delete("gone")  # twice is fine
    assert store.list("gone") == []
    assert not store.task_dir("gone").exists()
    assert len(store.list("kept")) == 1


async def test_files_are_private_to_the_workers_user(pool: BrowserPool, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    async with pool.page(trace=True, trace_path=store.trace_path("t", attempt=1)) as page:
        await page.set_content("<p>x</p>")
        shot = await store.save_screenshot("t", page, "step", attempt=1)
    assert shot is not None
    trace = store.trace_path("t", attempt=1)
    assert zipfile.is_zipfile(trace)
    assert stat.S_IMODE(shot.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.task_dir("t").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_prune_drops_old_traces_and_leftover_parts_but_keeps_screenshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore(tmp_path, keep_tasks=10, traces_keep_days=7)
    _make_task_dir(store, "old", 0)
    directory = store.task_dir("old")
    week_ago = time.time() - 8 * 86_400
    for name, stamp in [
        ("a1-trace.zip", week_ago),  # older than 7 days: goes
        ("a2-trace.zip", time.time() - 6 * 86_400),  # younger: stays
        (".a3-trace.zip.part1", time.time() - 2 * 86_400),  # a crash left it: goes
        (".a4-trace.zip.part1", time.time()),  # an attempt running now: stays
    ]:
        (directory / name).write_bytes(b"PK")
        os.utime(directory / name, (stamp, stamp))
    os.utime(directory, (week_ago, week_ago))
    assert store.prune() == 0
    assert sorted(p.name for p in directory.iterdir()) == [
        ".a4-trace.zip.part1",
        "a1-01-step.png",
        "a2-trace.zip",
    ]
    assert Settings(_env_file=None).traces_keep_days == 7
    monkeypatch.setenv("TASKDECK_TRACES_KEEP_DAYS", "2")
    assert Settings(_env_file=None).traces_keep_days == 2


def test_prune_by_age_and_by_total_size(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, keep_tasks=100, keep_days=1)
    _make_task_dir(store, "stale", 2 * 86_400)
    _make_task_dir(store, "fresh", 60)
    assert store.prune() == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["fresh"]

    sized = ArtifactStore(tmp_path / "sized", keep_tasks=100, max_mb=1)
    for n, age in enumerate([300, 100, 200]):  # 400 KiB each: three are over 1 MiB
        directory = sized.task_dir(f"task-{n}")
        directory.mkdir(parents=True)
        (directory / "a1-01-step.png").write_bytes(PNG_MAGIC + b"\0" * (400 * 1024))
        stamp = time.time() - age
        os.utime(directory, (stamp, stamp))
    assert sized.prune() == 1  # the least recently written one went
    assert sorted(p.name for p in sized.root.iterdir()) == ["task-1", "task-2"]


async def test_a_screenshot_that_failed_to_write_is_removed_and_never_listed(
    pool: BrowserPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from workers import artifacts

    def disk_full(path: Path, data: bytes) -> None:
        path.write_bytes(data[:0])  # the file exists, empty, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device")

    store = ArtifactStore(tmp_path)
    monkeypatch.setattr(artifacts, "write_private", disk_full)
    async with pool.page() as page:
        await page.set_content("<p>x</p>")
        assert await store.save_screenshot("t", page, "step", attempt=1) is None
    assert store.list("t") == [] and list(store.task_dir("t").iterdir()) == []
    (store.task_dir("t") / "a1-02-step.png").write_bytes(b"")  # left by an older version
    assert store.list("t") == []
