"""How often each network is looked at: from its block time in the policy."""

from __future__ import annotations

from datetime import datetime, timedelta

from policies import Network

# Faster than once a second buys nothing but load; slower than once a minute leaves users
# waiting for no reason, even on a chain with long blocks.
FASTEST = 1.0
SLOWEST = 60.0


def poll_interval(network: Network) -> float:
    """Seconds between two looks at `network`: its block time, within 1 to 60 s."""
    return min(SLOWEST, max(FASTEST, network.block_time_seconds))


def next_look(now: datetime, network: Network) -> datetime:
    """When a case on `network` checked at `now` is due again.

    A quarter of an interval early: the job for this network ticks every interval, and a
    case due a few milliseconds after the tick would otherwise wait a whole extra one.
    """
    return now + timedelta(seconds=poll_interval(network) * 0.75)
