"""How far a shard is done: the checkpoint may move only past records whose batches are settled.

With ParallelizationFactor above 1 a shard's records are in several batches at once and finish
out of order; the checkpoint is the last record of the longest settled prefix, in the order
the records were read. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable


class ShardProgress:
    def __init__(self) -> None:
        self._read: deque[str] = deque()
        self._settled: set[str] = set()
        self._lock = threading.Lock()

    def read(self, sequence_numbers: Iterable[str]) -> None:
        """Records read from the shard, in order; none of them settled yet."""
        with self._lock:
            self._read.extend(sequence_numbers)

    def settle(self, sequence_numbers: Iterable[str]) -> str | None:
        """Mark records done (processed, filtered out or discarded); the new checkpoint, if it
        moved: the last record of the longest prefix of read records that is all settled."""
        with self._lock:
            self._settled.update(sequence_numbers)
            checkpoint = None
            while self._read and self._read[0] in self._settled:
                checkpoint = self._read.popleft()
                self._settled.discard(checkpoint)
            return checkpoint

    @property
    def outstanding(self) -> int:
        """Records read but not yet behind the checkpoint."""
        with self._lock:
            return len(self._read)
