"""Erlang B, the one implementation (the channel-load view computes the same recursion in SQL).

The textbook formula A^N/N! / Σ A^k/k! overflows for large N; the recursion
B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)) is exact and stable for any N.
"""
from __future__ import annotations


def erlang_b(channels: int, erlangs: float) -> float:
    """Probability that a call is blocked with `channels` channels offered `erlangs` of traffic."""
    if channels < 0 or erlangs < 0:
        raise ValueError("channels and erlangs must not be negative")
    b = 1.0
    for n in range(1, channels + 1):
        b = erlangs * b / (n + erlangs * b)
    return b


def channels_needed(erlangs: float, gos: float, limit: int = 10_000) -> int:
    """Fewest channels whose blocking is at most `gos` for this traffic."""
    if not 0 < gos < 1:
        raise ValueError("gos must be in (0, 1)")
    b, n = 1.0, 0
    while b > gos:
        n += 1
        if n > limit:
            raise ValueError(f"more than {limit} channels needed")
        b = erlangs * b / (n + erlangs * b)
    return n
