"""Injectable clocks for the Hyper-V model.

The model never calls ``time`` directly: it asks its clock for ``now()`` (epoch seconds, float)
and asks it to ``sleep(seconds)`` for a simulated duration (outside the state lock).
"""

from __future__ import annotations

import threading
import time


class RealClock:
    """Wall-clock time; ``sleep`` really sleeps."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to (tests).

    ``sleep(s)`` advances the clock by ``s`` at once instead of blocking, so a synchronous
    operation with a duration completes instantly but its time still passes.
    """

    def __init__(self, start: float = 1_796_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += float(seconds)
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
