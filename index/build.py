"""Corpus -> encoder -> index, streaming: what ``lsr index`` and ``lsr eval`` run.

Documents are read and encoded ``chunk_size`` at a time and handed to the builder, so memory
holds one chunk of texts and vectors. Encoders that need corpus statistics (BM25, an
inference-free encoder without an idf table) get one extra reading pass for ``fit`` first.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsr.corpus import Document
from lsr.encoders.base import DenseEncoder, SparseEncoder
from lsr.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildStats:
    """What building cost: documents, encode time and throughput, total wall time."""

    num_docs: int
    encode_seconds: float
    total_seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.num_docs / self.encode_seconds if self.encode_seconds > 0 else float("inf")


def _chunks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def index_corpus(
    documents: Callable[[], Iterable[Document]],
    output: str | Path,
    encoder: SparseEncoder | DenseEncoder,
    *,
    batch_size: int | None = None,
    chunk_size: int = 4096,
    bits: int = 8,
    overwrite: bool = False,
    show_progress: bool | None = None,
    approx=None,
):
    """Encode every document and write an index at ``output``; return ``(index, BuildStats)``.

    ``documents`` is a zero-argument callable returning a fresh iterable of ``Document`` each
    time (e.g. ``lambda: iter_corpus(path)``), so the corpus can be read twice when the encoder
    needs fitting without ever being held whole in memory. Sparse encoders give a
    ``SparseIndex`` (with approximate-search structures when ``approx`` is an
    ``ApproxConfig`` or True); dense encoders a ``DenseIndex``.
    """
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    started = time.perf_counter()
    encode_seconds = 0.0
    if getattr(encoder, "needs_fit", False):
        t0 = time.perf_counter()
        encoder.fit([doc.full_text for doc in documents()])
        encode_seconds += time.perf_counter() - t0
    if isinstance(encoder, DenseEncoder):
        from lsr.index.dense_index import DenseIndex

        parts, ids, titles = [], [], []
        for chunk in _chunks(documents(), chunk_size):
            t0 = time.perf_counter()
            parts.append(encoder.encode_documents([d.full_text for d in chunk],
                                                  batch_size=batch_size,
                                                  show_progress=show_progress))
            encode_seconds += time.perf_counter() - t0
            ids.extend(d.id for d in chunk)
            titles.extend(d.title for d in chunk)
        if not ids:
            raise InputError("the corpus is empty: no documents to index")
        index = DenseIndex.build(np.concatenate(parts), ids, titles=titles, encoder=encoder)
        index.save(output, overwrite=overwrite)
    else:
        from lsr.index.builder import SparseIndexBuilder
        from lsr.index.sparse_index import SparseIndex

        with SparseIndexBuilder(output, dim=encoder.dim, bits=bits, encoder=encoder,
                                overwrite=overwrite, approx=approx) as builder:
            for chunk in _chunks(documents(), chunk_size):
                t0 = time.perf_counter()
                vectors = encoder.encode_documents([d.full_text for d in chunk],
                                                   batch_size=batch_size,
                                                   show_progress=show_progress)
                encode_seconds += time.perf_counter() - t0
                builder.add(vectors, [d.id for d in chunk], [d.title for d in chunk])
            path = builder.finish()
        index = SparseIndex.load(path, verify=False)
    stats = BuildStats(len(index), encode_seconds, time.perf_counter() - started)
    logger.info("indexed %d documents in %.1fs (%.1f docs/s encoding)", stats.num_docs,
                stats.total_seconds, stats.docs_per_second)
    return index, stats


def load_any_index(path: str | Path, *, verify: bool = True):
    """Open a sparse or dense index directory, whichever it holds."""
    import json

    from lsr.index.dense_index import FORMAT as DENSE_FORMAT
    from lsr.index.dense_index import DenseIndex
    from lsr.index.sparse_index import SparseIndex

    manifest = Path(path) / "manifest.json"
    try:
        fmt = json.loads(manifest.read_text()).get("format")
    except (OSError, ValueError):
        fmt = None  # let SparseIndex.load produce the precise error
    if fmt == DENSE_FORMAT:
        return DenseIndex.load(path, verify=verify)
    return SparseIndex.load(path, verify=verify)
