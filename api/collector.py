"""How this process's garbage collector runs.

Python starts a collection of its youngest generation every 700 allocations and every so often a
full one that walks every object still tracked. A process of ours holds large, long-lived
structures (deck indexes of hundreds of thousands of rates, the GraphQL schema, packages) and
handles batches that allocate hundreds of thousands of short-lived objects which die by their
reference counts, not by the collector: at the default pace it collects often and finds little.

* A serving process (``dialtone serve``) and an import collect their young generation every
  ``YOUNG_THRESHOLD`` allocations instead (a few megabytes of young objects at most), and what
  exists when the server has started is left out of the collector's view (``gc.freeze``).
* After a deck index is built, :func:`settle_long_lived` leaves it out of the view the same way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000


def settle_long_lived() -> None:
    """After long-lived structures were built (a deck index): its objects live as long as the
    deck's version, so they are moved out of the garbage collector's view (``gc.freeze``).
    Otherwise every full collection walks them all again, a tenth of a second each time, in
    the middle of whatever request triggered it. What was frozen before is given back and
    everything collected first, so that nothing unreachable stays frozen for long: rows of an
    index dropped later are freed by their reference counts (an index holds no cycles), and
    any cycle that died while frozen is collected at the next build."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def for_serving() -> None:
    """A serving process (or an import's worker process), once started: young collections
    every ``YOUNG_THRESHOLD`` allocations, and what was built at startup out of the
    collector's view."""
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    settle_long_lived()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """For the time of a long import, which keeps a few batches of rows alive at a time,
    millions of objects over a file: young collections every ``YOUNG_THRESHOLD`` allocations,
    and what existed before never scanned. Afterwards what is still alive (the caches the
    import filled: deck indexes, packages) is left out of the collector's view
    (:func:`settle_long_lived`), not handed back to be walked by every full collection."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        settle_long_lived()
