"""``SearchResult``: the one result type every searcher returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsr.errors import InputError


def check_k(k) -> int:
    """``k`` as an int, or ``InputError`` unless it is an integer >= 1 (bools refused)."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


@dataclass(frozen=True)
class SearchResult:
    """Top-k hits of ``n`` queries.

    indices: int64 (n, k)    internal document numbers, best first, ``-1`` where fewer than k hit
    scores:  float32 (n, k)  scores, ``0`` in padded slots
    doc_ids: the external string id of each internal document number
    """

    indices: np.ndarray
    scores: np.ndarray
    doc_ids: Sequence[str]

    def __len__(self) -> int:
        return self.indices.shape[0]

    @property
    def ids(self) -> list[list[str]]:
        """External ids per query, padding dropped."""
        return [[self.doc_ids[j] for j in row if j >= 0] for row in self.indices]

    def hits(self, i: int) -> list[tuple[str, float]]:
        """``(doc_id, score)`` pairs of query ``i``, best first."""
        row, scores = self.indices[i], self.scores[i]
        return [(self.doc_ids[j], float(s)) for j, s in zip(row, scores) if j >= 0]

    def to_run(self, query_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """As a pytrec_eval run: ``{query_id: {doc_id: score}}``."""
        if len(query_ids) != len(self):
            raise ValueError(f"got {len(query_ids)} query ids for {len(self)} result rows")
        return {qid: dict(self.hits(i)) for i, qid in enumerate(query_ids)}
