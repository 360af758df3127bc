"""Reconnect backoff of one device or server: exponential, jittered, capped by its poll interval.

A device that stops answering is retried after ``minimum`` seconds, doubling at each
consecutive failure, up to a cap. The cap is what a returning device waits at most
before it is read again, so it is tied to the device's own poll interval::

    cap = min(maximum, max(per_interval × interval, floor))

With the defaults (1 s polls, ``per_interval`` 2, ``floor`` 2 s) a device back from a
short outage is read again within about three poll intervals, where an uncapped
doubling had left it unread for 15–30 s. No reconnect storm follows: each device
has one attempt in flight at a time (its own task, its link's lock), and every
delay carries ± ``jitter`` so devices that failed together do not retry in step. A
device down for a minute makes at most ``60 / (cap × (1 - jitter))`` attempts.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> [round(reconnect_delay(n, 1.0, jitter=0.0, rng=rng), 2) for n in range(1, 7)]
[0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
>>> reconnect_delay(9, 60.0, jitter=0.0, rng=rng)  # slow polls: the absolute maximum
30.0
>>> reconnect_delay(5000, 1.0, jitter=0.0, rng=rng)  # down for hours
2.0
"""

from __future__ import annotations

import random

#: first delay after a failure [s]
BACKOFF_MIN_S = 0.5
#: no delay is longer than this, whatever the poll interval [s]
BACKOFF_MAX_S = 30.0
#: the cap in poll intervals ...
BACKOFF_INTERVALS = 2.0
#: ... and never below this [s]: a fast poll does not make a fast retry loop
BACKOFF_FLOOR_S = 2.0
#: ± fraction of each delay
JITTER = 0.2


def backoff_cap(
    interval_s: float,
    *,
    maximum: float = BACKOFF_MAX_S,
    per_interval: float = BACKOFF_INTERVALS,
    floor: float = BACKOFF_FLOOR_S,
) -> float:
    """The longest delay between attempts for a device polled every ``interval_s`` [s]."""
    return min(maximum, max(per_interval * max(interval_s, 0.0), floor))


def reconnect_delay(
    failures: int,
    interval_s: float,
    *,
    minimum: float = BACKOFF_MIN_S,
    maximum: float = BACKOFF_MAX_S,
    per_interval: float = BACKOFF_INTERVALS,
    floor: float = BACKOFF_FLOOR_S,
    jitter: float = JITTER,
    rng: random.Random | None = None,
) -> float:
    """Delay [s] before the next attempt after ``failures`` consecutive failures."""
    cap = backoff_cap(interval_s, maximum=maximum, per_interval=per_interval, floor=floor)
    # The exponent is bounded: a device down for hours has thousands of failures, and
    # 0.5 * 2**1100 does not fit a float.
    base = min(minimum * 2.0 ** min(max(failures - 1, 0), 60), cap)
    draw = (rng or random).random()
    return base * (1.0 + jitter * (2.0 * draw - 1.0))
