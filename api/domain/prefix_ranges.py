"""Longest-prefix match for a whole batch of numbers at once, in a few array operations.

A prefix ``p`` of length ``L`` covers every number whose first ``W`` digits (``W`` the deck's
longest prefix) fall in ``[p x 10^(W-L), (p + 1) x 10^(W-L))``. Prefixes nest or are disjoint,
so one sweep over those intervals splits the line into elementary ranges, each with the longest
prefix covering it. A number's match is then the range its first ``W`` digits fall in: one
binary search (``numpy.searchsorted``) over the range starts, for the whole batch in C.

Numbers shorter than ``W``, or with anything but digits in their first ``W`` characters, are
not placed (the caller looks them up one by one); ``W`` is at most 18 digits so every key fits
in a signed 64-bit integer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAX_WIDTH = 18


class PrefixRanges:
    """Elementary ranges of one set of prefixes, each mapped to the value of its longest
    covering prefix (``None`` where no prefix covers it). Values for which ``final`` is false
    are handed back to the caller to settle one by one."""

    __slots__ = ("_final", "_pow10", "_starts", "_values", "width")

    def __init__(self, values: dict[str, Any], final: Callable[[Any], bool] = bool):
        self.width = max((len(p) for p in values), default=0)
        if not 0 < self.width <= MAX_WIDTH:
            raise ValueError(f"prefixes must be 1 to {MAX_WIDTH} digits long")
        # (position, 0 = close | 1 = open, length, value): at one position closes come before
        # opens, and outer opens before inner ones (which of several closes goes first does
        # not matter: the position's range takes the state after all of them)
        events: list[tuple[int, int, int, Any]] = []
        for prefix, value in values.items():
            if not (prefix.isascii() and prefix.isdigit()):
                raise ValueError(f"not a dial prefix: {prefix!r}")
            span = 10 ** (self.width - len(prefix))
            start = int(prefix) * span
            events.append((start, 1, len(prefix), value))
            events.append((start + span, 0, 0, None))
        events.sort(key=lambda e: e[:3])
        starts: list[int] = [0]
        found: list[Any] = [None]
        open_values: list[Any] = []
        for position, opens, _, value in events:
            if opens:
                open_values.append(value)
            else:
                open_values.pop()
            top = open_values[-1] if open_values else None
            if starts[-1] == position:
                found[-1] = top
            else:
                starts.append(position)
                found.append(top)
        self._starts = np.array(starts, dtype=np.int64)
        self._values = np.empty(len(found), dtype=object)
        self._values[:] = found
        self._final = np.array([value is None or final(value) for value in found], dtype=bool)
        self._pow10 = 10 ** np.arange(self.width - 1, -1, -1, dtype=np.int64)

    def match(self, numbers: Sequence[str]) -> tuple[list[Any], list[int]]:
        """The value of the longest prefix of each number, and the positions left to the
        caller: numbers too short or not all digits (their entries are ``None``) and those
        whose value is not final."""
        if not numbers:
            return [], []
        try:
            heads = np.array(numbers, dtype=f"S{self.width}")
        except UnicodeEncodeError:
            return [None] * len(numbers), list(range(len(numbers)))
        digits = heads.view(np.uint8).reshape(-1, self.width).astype(np.int64) - 48
        unplaced = ((digits < 0) | (digits > 9)).any(axis=1)
        ranges = np.searchsorted(self._starts, digits @ self._pow10, side="right") - 1
        found = self._values[ranges].tolist()
        for i in np.flatnonzero(unplaced).tolist():
            found[i] = None
        return found, np.flatnonzero(unplaced | ~self._final[ranges]).tolist()
