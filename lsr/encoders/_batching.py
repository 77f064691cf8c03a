"""Length-sorted batching for transformer encoders.

Texts are tokenized once, sorted by token count and cut into batches, so each batch pads to
about its own length instead of the longest text of the corpus. Callers scatter results back
with the yielded text indices.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

# Texts are tokenized and length-sorted this many at a time: sorting a window this large keeps
# padding negligible while bounding the memory held by token-id lists on million-text corpora.
SORT_WINDOW = 16384


def count_batches(n: int, batch_size: int) -> int:
    """Number of batches :func:`length_sorted_batches` yields for ``n`` texts."""
    return sum(
        math.ceil(min(SORT_WINDOW, n - start) / batch_size) for start in range(0, n, SORT_WINDOW)
    )


def length_sorted_batches(
    tokenizer, texts: list[str], max_length: int, batch_size: int
) -> Iterator[tuple[np.ndarray, dict]]:
    """Yield ``(text indices int64 (b,), padded inputs)``, longest texts first in each window.

    ``tokenizer`` is a transformers tokenizer; inputs are its padded ``input_ids`` and
    ``attention_mask`` as int64 torch tensors ``(b, tokens)``, truncated to ``max_length``.
    """
    for start in range(0, len(texts), SORT_WINDOW):
        window = texts[start : start + SORT_WINDOW]
        ids = tokenizer(
            window, truncation=True, max_length=max_length, return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        # Longest first: a batch that does not fit in memory fails at once, not at the end.
        order = np.argsort(-lengths, kind="stable")
        for lo in range(0, len(order), batch_size):
            chunk = order[lo : lo + batch_size]
            inputs = tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
            yield chunk + start, dict(inputs)
