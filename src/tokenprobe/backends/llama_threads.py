"""How many threads the local engine evaluates with: the cores other processes leave free.

llama.cpp splits every operation of a decode evenly between its threads and waits for the
slowest at each of several hundred barriers. When another process keeps a core busy, the
thread sharing that core runs at half speed or waits for a time slice at each barrier, and
a decode with as many threads as cores becomes several times slower than with one fewer
(benchmarks/bench_eval_path.py). So the engine asks before a decode (at most every
RECHECK seconds) how many threads of other processes are runnable, and uses the cores left,
at least one. The thread count does not change the numbers (llama.cpp's results are the
same for any count; tested). It leaves out which kernels or batch sizes run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

RECHECK = 0.2  # seconds between two looks at the machine's load


def others_runnable() -> int | None:
    """Runnable threads of other processes right now, or None where it cannot be known.

    /proc/loadavg counts the machine's runnable threads; this process's own (the caller and
    llama.cpp's workers, which spin a while after each decode) are taken off.
    """
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:  # the thread ended meanwhile
                continue
            if stat[stat.rindex(")") + 2 :].startswith("R"):
                own += 1
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - own)


class ThreadCount:
    """The thread count for the next decode: `limit`, less the cores others keep busy."""

    def __init__(self, limit: int, adapt: bool = True,
                 probe: Callable[[], int | None] = others_runnable,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.adapt = adapt and self.limit > 1
        self._probe, self._clock = probe, clock
        self._value, self._checked = self.limit, float("-inf")

    def current(self) -> int:
        if not self.adapt:
            return self.limit
        now = self._clock()
        if now - self._checked >= RECHECK:
            self._checked = now
            busy = self._probe()
            self._value = self.limit if busy is None else max(1, min(self.limit,
                                                                     self.cores() - busy))
        return self._value

    @staticmethod
    def cores() -> int:
        try:
            return len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return os.cpu_count() or 1
