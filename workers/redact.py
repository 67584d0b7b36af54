"""The secret values of one attempt (card number, CVC, expiry, store password) and how to find them.

A bot types them inside ``ctx.secret_input()``, where nothing is traced or photographed (see
``workers.tracing``). ``Secrets`` is the safety net behind that: it recognises a value in the
bytes of a trace member in the forms a browser or Playwright writes it: as typed, JSON-escaped,
URL-encoded (a form post) and base64 at any alignment. Short values (a CVC, an expiry) would match
by chance in any large file, so they are only recognised as a whole value: a JSON string
(``"123"``), a form field (``=123&``) or an HTML attribute (``value="123"``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from workers.bots.base import CheckoutProfile, StoreAccount

MIN_FREE_LEN = 6  # values at least this long are found anywhere; shorter ones only as a whole value

# Empties every form field of the page (all frames it can reach) and drops the focus: a page left
# behind by a secret section that failed shows no typed value in a later screenshot.
BLANK_FIELDS = """() => {
  const blank = (doc) => {
    for (const el of doc.querySelectorAll('input, textarea')) {
      if (!['button', 'submit', 'reset', 'hidden', 'checkbox', 'radio', 'image'].includes(el.type)) {
        el.value = '';
        el.setAttribute('value', '');
      }
    }
    for (const frame of doc.querySelectorAll('iframe')) {
      try { if (frame.contentDocument) blank(frame.contentDocument); } catch (e) {}
    }
    if (doc.activeElement && doc.activeElement.blur) doc.activeElement.blur();
  };
  blank(document);
  return true;
}"""


def _base64_fragments(raw: bytes) -> set[bytes]:
    """The base64 text that ``raw`` turns into wherever it sits in a longer encoded input."""
    found: set[bytes] = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).rstrip(b"=")
            start = (shift * 4 + 2) // 3  # characters that also hold the padding in front
            end = len(text) - (1 if (shift + len(raw)) % 3 else 0)  # the last one mixes with what follows
            if end - start >= 4:
                found.add(text[start:end])
    return found


def forms_of(value: str) -> set[bytes]:
    """Every byte string that shows ``value`` (as typed, JSON, URL-encoded, base64)."""
    raw = value.encode()
    texts = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    texts |= {quote_plus(value), quote(value, safe="")}
    forms = {t.encode() for t in texts}
    if len(value) >= MIN_FREE_LEN:
        return forms | _base64_fragments(raw)
    whole: set[bytes] = set()
    for form in forms:
        whole |= {b'"' + form + b'"', b'\\"' + form + b'\\"', b"=" + form + b"&", b"'" + form + b"'"}
    return whole


@dataclass(frozen=True)
class Secrets:
    """Values that must appear in no artifact; empty when the attempt has none."""

    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, profile: CheckoutProfile | None, account: StoreAccount | None) -> Secrets:
        values: list[str] = []
        if profile is not None:
            values += [profile.card_number, profile.card_cvc, profile.card_expiry]
        if account is not None:
            values.append(account.password)
        return cls(tuple(v for v in dict.fromkeys(values) if v))

    def __repr__(self) -> str:  # never print the values
        return f"Secrets({len(self.values)} values)"

    def pattern(self) -> re.Pattern[bytes] | None:
        forms: set[bytes] = set()
        for value in self.values:
            forms |= forms_of(value)
        if not forms:
            return None
        # a short value's whole form may also end a form post (``=123`` at the end of the body)
        ends = [re.escape(b"=" + v.encode()) + rb"\Z" for v in self.values if len(v) < MIN_FREE_LEN]
        alternatives = sorted((re.escape(f) for f in forms), key=len, reverse=True) + ends
        return re.compile(b"|".join(alternatives))

    def found_in(self, data: bytes) -> bool:
        pattern = self.pattern()
        return pattern is not None and pattern.search(data) is not None


def scrub_lines(data: bytes, pattern: re.Pattern[bytes]) -> tuple[bytes, int]:
    """``data`` (JSON lines) without the lines that hold a secret; how many went."""
    kept: list[bytes] = []
    dropped = 0
    for line in data.splitlines(keepends=True):
        if pattern.search(line):
            dropped += 1
        else:
            kept.append(line)
    return b"".join(kept), dropped
