"""The safety net behind secret sections: secret values found in any encoding, scrubbed from a
trace when its parts are merged."""

from __future__ import annotations

import base64
import json
import stat
import zipfile
from pathlib import Path
from urllib.parse import quote_plus

from workers.bots.base import CheckoutProfile, StoreAccount
from workers.redact import Secrets
from workers.tracing import merge

CARD, CVC, PASSWORD = "4111111111111111", "987", 'p"ss wörd&1'
SECRETS = Secrets.of(
    CheckoutProfile(
        full_name="A", email="a@example.com", address="x", card_number=CARD, card_expiry="11/29", card_cvc=CVC
    ),
    StoreAccount(login="alice", password=PASSWORD),
)


def test_values_are_found_in_every_encoding_short_ones_only_whole() -> None:
    body = f"full_name=A&card_number={CARD}&card_cvc={CVC}&password={quote_plus(PASSWORD)}".encode()
    for prefix in (b"", b"x", b"xy"):  # base64 at every alignment
        assert SECRETS.found_in(base64.b64encode(prefix + body))
    assert SECRETS.found_in(json.dumps({"value": PASSWORD}).encode())
    assert SECRETS.found_in(quote_plus(PASSWORD).encode())
    assert SECRETS.found_in(b"card_cvc=987")  # the end of a form post
    assert SECRETS.found_in(b'{"value":"987"}')
    assert not SECRETS.found_in(b'{"time": 19870.5, "sha1": "a987b"}')  # a short value only whole
    assert not Secrets().found_in(b"anything")
    assert "4111" not in repr(SECRETS)


def _part(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_merge_joins_the_parts_and_drops_what_holds_a_secret(tmp_path: Path) -> None:
    typed = json.dumps({"type": "before", "method": "fill", "params": {"value": CARD}}).encode()
    first = _part(
        tmp_path / "p1.zip",
        {
            "trace.trace": b'{"type":"before","method":"goto"}\n' + typed + b"\n",
            "trace.network": b'{"request":{"url":"/checkout","postData":{"_sha1":"post.dat"}}}\n',
            "resources/post.dat": f"card_number={CARD}&card_cvc={CVC}".encode(),
            "resources/style.css": b"body{color:#123}",
        },
    )
    second = _part(
        tmp_path / "p2.zip",
        {"trace.trace": b'{"type":"before","method":"click"}\n', "resources/style.css": b"body{color:#123}"},
    )
    target = tmp_path / "task" / "a1-trace.zip"
    assert merge([first, second], target, SECRETS) == 2  # the typed line and the posted body
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with zipfile.ZipFile(target) as archive:
        names = sorted(archive.namelist())
        assert names == ["resources/style.css", "trace-part2.trace", "trace.network", "trace.trace"]
        assert archive.read("trace.trace") == b'{"type":"before","method":"goto"}\n'
        assert archive.read("trace-part2.trace") == b'{"type":"before","method":"click"}\n'
        for name in names:
            assert not SECRETS.found_in(archive.read(name)), name
