"""Variable-length strings (document ids, titles) stored as two ``.npy`` arrays.

``data`` is the UTF-8 concatenation (uint8) and ``offsets`` (int64, n + 1) marks where each
string starts; both memory-map, and nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def encode_strings(strings: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(data uint8, offsets int64)`` for ``strings``."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return data, offsets


class StringTable(Sequence[str]):
    """Read-only sequence of strings over ``(data, offsets)``; decodes on access."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self._data = data
        self._offsets = offsets
        self._lookup: dict[str, int] | None = None

    @classmethod
    def from_strings(cls, strings: Iterable[str]) -> StringTable:
        return cls(*encode_strings(strings))

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self._data, self._offsets

    def __len__(self) -> int:
        return self._offsets.size - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"string index {i} out of range for {len(self)} strings")
        lo, hi = self._offsets[i], self._offsets[i + 1]
        return bytes(self._data[lo:hi]).decode("utf-8")

    def to_list(self) -> list[str]:
        raw = bytes(self._data)
        offs = self._offsets.tolist()
        return [raw[offs[i]:offs[i + 1]].decode("utf-8") for i in range(len(self))]

    def index_of(self, string: str) -> int:
        """Position of ``string``; raises ``KeyError`` when absent (the map is built once)."""
        if self._lookup is None:
            self._lookup = {s: i for i, s in enumerate(self.to_list())}
        return self._lookup[string]
