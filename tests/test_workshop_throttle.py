"""Failed workshop logins are slowed down per client address, and many connections at once do not help."""

from __future__ import annotations

import asyncio
import time

from tutor.workshop.throttle import LoginThrottle, client_key


def test_who_is_counted():
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("fe80::1%eth0") == "fe80::/64"


def test_each_failure_in_a_row_doubles_the_delay_up_to_a_ceiling():
    throttle = LoginThrottle(first_delay_s=1.0, max_delay_s=10.0)
    assert [throttle.delay_after(n) for n in range(7)] == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_a_failure_holds_the_answer_back_and_a_success_forgets():
    throttle = LoginThrottle(first_delay_s=0.1)
    started = time.monotonic()
    assert not await throttle.attempt("192.0.2.7", lambda: False)
    assert time.monotonic() - started >= 0.1
    assert not await throttle.attempt("192.0.2.7", lambda: False)
    assert throttle.failures("192.0.2.7") == 2 and throttle.last_delay_s["192.0.2.7"] == 0.2
    assert throttle.failures("192.0.2.8") == 0  # another address is not slowed
    started = time.monotonic()
    assert await throttle.attempt("192.0.2.7", lambda: True)
    assert time.monotonic() - started < 0.1  # a right password is answered at once
    assert throttle.failures("192.0.2.7") == 0


async def test_attempts_from_one_address_wait_in_line():
    throttle = LoginThrottle(first_delay_s=0.1)
    started = time.monotonic()
    results = await asyncio.gather(*(throttle.attempt("192.0.2.7", lambda: False) for _ in range(3)))
    assert results == [False, False, False]
    assert time.monotonic() - started >= 0.1 + 0.2 + 0.4  # one after the other, each held back longer
    assert throttle.failures("192.0.2.7") == 3


async def test_a_quiet_spell_forgets_the_failures():
    now = [1000.0]
    throttle = LoginThrottle(first_delay_s=0.0, forget_after_s=600, clock=lambda: now[0])
    await throttle.attempt("192.0.2.7", lambda: False)
    await throttle.attempt("192.0.2.7", lambda: False)
    now[0] += 599
    await throttle.attempt("192.0.2.8", lambda: True)
    assert throttle.failures("192.0.2.7") == 2
    now[0] += 2
    await throttle.attempt("192.0.2.8", lambda: True)
    assert throttle.failures("192.0.2.7") == 0
