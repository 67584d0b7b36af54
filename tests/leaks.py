"""Looking for secret values in what Taskdeck wrote: artifact files (traces member by member),
rows, logs. A value is looked for as typed, URL-encoded, JSON-escaped and base64-encoded; a
short one (a CVC, an expiry) only as a whole value, since its digits occur by chance anywhere.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus


def _base64_runs(raw: bytes) -> set[bytes]:
    """``raw`` base64-encoded at each of the three alignments it can have inside a longer text."""
    runs = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).rstrip(b"=")
            runs.add(text[(shift * 4 + 2) // 3 : len(text) - 1])
    return runs


def needles(*, card: str, cvc: str, expiry: str | None, passwords: Iterable[str]) -> dict[bytes, str]:
    """What a leak looks like, and what it is a leak of."""
    found: dict[bytes, str] = {}
    for name, value in (("card", card), *(("password", p) for p in passwords)):
        for form in {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}:
            found[form.encode()] = name
        for run in _base64_runs(value.encode()):
            found[run] = f"{name} (base64)"
    for form in (f'"{cvc}"', f'\\"{cvc}\\"', f"card_cvc={cvc}", f'value="{cvc}"', f"'{cvc}'"):
        found[form.encode()] = "cvc"
    for run in _base64_runs(f"card_cvc={cvc}".encode()):
        found[run] = "cvc (base64)"
    for form in (f"card_expiry={quote_plus(expiry)}", f'"{expiry}"') if expiry else ():
        found[form.encode()] = "expiry"
    return found


def leaks(blob: bytes, where: str, needles: dict[bytes, str]) -> list[str]:
    return [f"{what} in {where}" for needle, what in needles.items() if needle in blob]


def artifact_blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every artifact file, and every member of every zip in it."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path.relative_to(root)), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{path.relative_to(root)}!{member}", archive.read(member)
