"""Vocabulary lists in id order, shared by the SPLADE and inference-free encoders.

Both sides of an inference-free index must produce the same ``vocab`` (the index compares
fingerprints), so the rule for filling ids the tokenizer does not name lives in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

logger = logging.getLogger(__name__)


def placeholder(token_id: int) -> str:
    """Name for an id the tokenizer has no token for (model vocabularies padded to a multiple)."""
    return f"[lsr_unused_{token_id}]"


def vocab_in_id_order(token_to_id: Mapping[str, int], size: int | None = None) -> list[str]:
    """Token strings in id order, ``size`` long (default: one past the largest id).

    Ids without a token get ``placeholder(id)``; this happens when a model's embedding matrix is
    larger than its tokenizer (vocabularies padded for speed). Tokens with ids ``>= size`` cannot
    be represented and raise ``ValueError``.
    """
    largest = max(token_to_id.values(), default=-1)
    if size is None:
        size = largest + 1
    if largest >= size:
        raise ValueError(
            f"the tokenizer has token ids up to {largest} but the vocabulary has only {size} "
            "entries; the tokenizer does not belong to this model (or has added tokens the "
            "model was not resized for)"
        )
    vocab: list[str | None] = [None] * size
    for token, token_id in token_to_id.items():
        vocab[token_id] = token
    missing = [i for i, token in enumerate(vocab) if token is None]
    if missing:
        logger.warning(
            "%d of %d vocabulary ids have no token in the tokenizer; naming them %s, ...",
            len(missing), size, placeholder(missing[0]),
        )
        for i in missing:
            vocab[i] = placeholder(i)
    return vocab  # type: ignore[return-value]
