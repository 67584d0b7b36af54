"""The sign-in throttle: more than 5 failures a minute for a key → wait, and for how long."""

from __future__ import annotations

from webapp.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_a_minute_then_wait_until_the_oldest_ages_out() -> None:
    clock = Clock()
    throttle = Throttle(limit=5, window=60, clock=clock)
    keys = ["email:a@b.c", "ip:1.2.3.4"]
    for i in range(5):
        assert throttle.retry_after(keys) is None
        throttle.fail(keys)
        clock.now += 10 if i == 0 else 1
    assert throttle.retry_after(keys) == 46  # the first failure (t=1000) ages out at t=1060; now 1014
    assert throttle.retry_after(["email:a@b.c", "ip:9.9.9.9"]) == 46  # one key over is enough
    assert throttle.retry_after(["email:other@b.c", "ip:9.9.9.9"]) is None
    clock.now = 1060.5
    assert throttle.retry_after(keys) is None  # four failures left in the window
    throttle.fail(keys)
    assert throttle.retry_after(keys) == 10  # the 2nd failure (t=1010) ages out at 1070: 9.5 s, rounded up


def test_keys_are_independent_and_forgotten() -> None:
    clock = Clock()
    throttle = Throttle(limit=2, window=60, clock=clock)
    throttle.fail(["a"])
    throttle.fail(["a"])
    assert throttle.retry_after(["a"]) == 60
    assert throttle.retry_after(["b"]) is None
    clock.now += 61
    assert throttle.retry_after(["a"]) is None
