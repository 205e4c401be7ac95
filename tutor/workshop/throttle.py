"""Failed logins slowed down per client address.

After a wrong password the answer is held back, for longer after each failure from the same address
(doubling up to a ceiling), and that address's other attempts wait in line meanwhile: opening many
connections at once does not guess faster. A success, or a quiet spell, forgets the failures. IPv6 clients
count per /64, the block one machine can pick its addresses from.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 10.0
FORGET_AFTER_S = 600.0


@dataclass
class _Address:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failures: int = 0
    last_failure: float = 0.0


def client_key(address: str) -> str:
    """Who the throttle counts: the address itself, or an IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class LoginThrottle:
    def __init__(
        self,
        *,
        first_delay_s: float = FIRST_DELAY_S,
        max_delay_s: float = MAX_DELAY_S,
        forget_after_s: float = FORGET_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self._clock = clock
        self._addresses: dict[str, _Address] = {}
        self.last_delay_s: dict[str, float] = {}  # the delay decided after each address's latest failure

    def delay_after(self, failures: int) -> float:
        """How long the answer to the `failures`-th failure in a row is held back."""
        if failures <= 0:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * 2 ** (failures - 1))

    def failures(self, address: str) -> int:
        entry = self._addresses.get(client_key(address))
        return entry.failures if entry else 0

    async def attempt(self, address: str, check: Callable[[], bool]) -> bool:
        """`check()`'s answer, held back after a failure; one attempt at a time per address."""
        key = client_key(address)
        self._forget_quiet_addresses()
        entry = self._addresses.setdefault(key, _Address())
        async with entry.lock:
            if check():
                entry.failures = 0
                return True
            entry.failures += 1
            entry.last_failure = self._clock()
            delay = self.delay_after(entry.failures)
            self.last_delay_s[key] = delay
            await asyncio.sleep(delay)
            return False

    def _forget_quiet_addresses(self) -> None:
        now = self._clock()
        for key, entry in list(self._addresses.items()):
            if not entry.lock.locked() and (entry.failures == 0 or now - entry.last_failure > self.forget_after_s):
                del self._addresses[key]
                self.last_delay_s.pop(key, None)
