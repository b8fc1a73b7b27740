"""Slowing down wrong tokens: each client's failed guesses are answered later and later.

A server with `--token` may be reachable from a whole network, and an answer to a wrong
token is the only thing a guesser learns from. The first FREE_FAILURES wrong tokens from
one client are answered at once (typing mistakes); after that each one waits, twice as long
as the one before up to MAX_DELAY, and one client's failures queue behind each other, so
that opening many connections at once does not multiply the rate: a guess is never answered
before the previous one's time plus its own delay. A guess that would wait more than
MAX_HOLD is held MAX_HOLD and answered without taking a place in the queue (its connection
is held that long, so a client with N connections gets at most N answers per MAX_HOLD). A
correct token is never slowed, whoever sends it and however many wrong ones came before.

A client is its IP address (an IPv6 client by its /64, which one machine usually has
whole). At most MAX_CLIENTS clients are remembered, the least recently failing forgotten
first, and a client that has not failed for FORGET_AFTER seconds starts afresh: memory
stays bounded whatever arrives.

It leaves out checking the token itself (security.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_DELAY = 0.5  # seconds, for the first failure past the free ones
MAX_DELAY = 8.0
MAX_HOLD = 30.0
FORGET_AFTER = 600.0
MAX_CLIENTS = 4096


def client_key(host: str | None) -> str:
    """Whom failures are counted against: the address, an IPv6 one by its /64."""
    if not host:
        return ""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


@dataclass
class _Client:
    failures: int = 0
    ready_at: float = 0.0  # the next queued failure is answered no earlier
    last: float = 0.0


class FailureThrottle:
    """Per-client delays for failed tokens. Used from the event loop's thread only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 max_clients: int = MAX_CLIENTS) -> None:
        self._clock = clock
        self._sleep = sleep
        self._max = max_clients
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    def delay_for(self, host: str | None) -> float:
        """Count a failure from `host`; the seconds to wait before answering it."""
        now = self._clock()
        key = client_key(host)
        client = self._clients.pop(key, None)
        if client is None or now - client.last > FORGET_AFTER:
            client = _Client()
        self._clients[key] = client  # the most recent last
        while len(self._clients) > self._max:
            self._clients.popitem(last=False)
        client.failures += 1
        client.last = now
        past = client.failures - FREE_FAILURES
        if past <= 0:
            return 0.0
        step = min(FIRST_DELAY * 2.0 ** min(past - 1, 32), MAX_DELAY)
        answer_at = max(now, client.ready_at) + step
        if answer_at - now > MAX_HOLD:
            return MAX_HOLD
        client.ready_at = answer_at
        return answer_at - now

    async def failed(self, host: str | None) -> None:
        """Wait as long as a failure from `host` must before it is answered."""
        delay = self.delay_for(host)
        if delay > 0:
            await self._sleep(delay)
