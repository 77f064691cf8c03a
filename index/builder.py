"""``SparseIndexBuilder``: streams sparse vectors into an index directory with bounded memory."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lsr.encoders.base import SparseEncoder
from lsr.errors import InputError, VocabularyMismatchError
from lsr.index.approx import ApproxConfig, build_approx_arrays
from lsr.index.strings import encode_strings
from lsr.manifest import StagingDir
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

FORMAT = "lsr-sparse-index"
FORMAT_VERSION = 2
# v1 lacked the block-max arrays; they are computed on load for v1 indexes.
SUPPORTED_VERSIONS = (1, 2)
BLOCK_SIZE = 64  # postings per block-max block: PISA's default for fixed-size blocks
ENCODER_DIR = "encoder"


def _check_ids(ids: Sequence[str], n: int, seen: set[str]) -> list[str]:
    if len(ids) != n:
        raise InputError(f"got {len(ids)} document ids for {n} vectors; pass one id per vector")
    out = []
    for doc_id in ids:
        if not isinstance(doc_id, str) or not doc_id:
            raise InputError(f"document ids must be non-empty strings, got {doc_id!r}")
        if doc_id in seen:
            raise InputError(f"duplicate document id {doc_id!r}; ids must be unique")
        seen.add(doc_id)
        out.append(doc_id)
    return out


def _approx_config(approx: ApproxConfig | bool | None) -> ApproxConfig | None:
    if approx is None or approx is False:
        return None
    if approx is True:
        return ApproxConfig()
    if not isinstance(approx, ApproxConfig):
        raise InputError(f"approx must be an ApproxConfig, True or None, got {approx!r}")
    return approx


class SparseIndexBuilder:
    """Streams ``SparseBatch`` chunks into an index directory with bounded memory.

    Chunks are spilled to scratch files inside the staging directory; ``finish`` makes two
    passes over them (document frequencies, then scattering postings into memory-mapped
    output arrays), so memory holds one chunk plus per-term counters, never a dense matrix.
    """

    def __init__(self, path: str | Path, *, dim: int, bits: int = 8,
                 encoder: SparseEncoder | None = None, overwrite: bool = False,
                 approx: ApproxConfig | bool | None = None):
        if bits not in (8, 16):
            raise InputError(f"bits must be 8 or 16, got {bits}")
        if dim < 1:
            raise InputError(f"dim must be >= 1, got {dim}")
        if encoder is not None and encoder.dim != dim:
            raise VocabularyMismatchError(
                f"the encoder has {encoder.dim} terms but the vectors have dim {dim}"
            )
        self.dim = dim
        self.bits = bits
        self.encoder = encoder
        self.approx = _approx_config(approx)
        self._stage = StagingDir(path, overwrite=overwrite)
        self._scratch = self._stage.path / "_scratch"
        self._scratch.mkdir()
        self._n_chunks = 0
        self._n_docs = 0
        self._max = 0.0
        self._ids: list[str] = []
        self._seen: set[str] = set()
        self._titles: list[str] | None = None
        self._done = False

    def __enter__(self) -> SparseIndexBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abort()

    def abort(self) -> None:
        self._done = True
        self._stage.abort()

    def add(self, batch: SparseBatch, ids: Sequence[str],
            titles: Sequence[str] | None = None) -> None:
        """Append documents; ``ids`` (and ``titles`` if any) align with the batch rows."""
        if batch.dim != self.dim:
            raise VocabularyMismatchError(
                f"batch has dim {batch.dim} but the index was started with dim {self.dim}"
            )
        if batch.values.size and batch.values.min() < 0:
            raise InputError(
                "document weights must be >= 0 (impacts are unsigned); found "
                f"{float(batch.values.min())}: apply ReLU or shift the weights"
            )
        self._ids.extend(_check_ids(ids, len(batch), self._seen))
        if titles is not None:
            if len(titles) != len(batch):
                raise InputError(f"got {len(titles)} titles for {len(batch)} documents")
            if self._titles is None:
                self._titles = [""] * (self._n_docs)
            self._titles.extend(str(t) for t in titles)
        elif self._titles is not None:
            self._titles.extend([""] * len(batch))
        base = self._scratch / f"{self._n_chunks:06d}"
        np.save(f"{base}.indptr.npy", batch.indptr)
        np.save(f"{base}.indices.npy", batch.indices)
        np.save(f"{base}.values.npy", batch.values)
        if batch.values.size:
            self._max = max(self._max, float(batch.values.max()))
        self._n_chunks += 1
        self._n_docs += len(batch)

    def _chunks(self):
        offset = 0
        for c in range(self._n_chunks):
            base = self._scratch / f"{c:06d}"
            indptr = np.load(f"{base}.indptr.npy")
            indices = np.load(f"{base}.indices.npy", mmap_mode="r")
            values = np.load(f"{base}.values.npy", mmap_mode="r")
            yield offset, indptr, indices, values
            offset += indptr.size - 1

    def _quantize(self, values: np.ndarray, scale: float) -> np.ndarray:
        top = (1 << self.bits) - 1
        q = np.rint(np.asarray(values, dtype=np.float64) / scale)
        return np.clip(q, 0, top).astype(np.uint8 if self.bits == 8 else np.uint16)

    def finish(self) -> Path:
        """Write the posting lists and manifest and move the index into place."""
        from lsr.index._kernels import scatter_postings

        if self._n_docs == 0:
            self.abort()
            raise InputError("cannot build an index from an empty collection (0 documents)")
        scale = self._max / ((1 << self.bits) - 1) if self._max > 0 else 1.0
        df = np.zeros(self.dim, dtype=np.int64)
        doc_nnz = self._stage.open_array("doc_nnz", np.int32, (self._n_docs,))
        for offset, indptr, indices, values in self._chunks():
            impacts = self._quantize(values, scale)
            kept = impacts > 0
            df += np.bincount(np.asarray(indices)[kept], minlength=self.dim)
            rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
            doc_nnz[offset:offset + indptr.size - 1] = np.bincount(
                rows[kept], minlength=indptr.size - 1
            )
        term_offsets = np.zeros(self.dim + 1, dtype=np.int64)
        np.cumsum(df, out=term_offsets[1:])
        n_postings = int(term_offsets[-1])
        post_docs = self._stage.open_array("post_docs", np.int32, (n_postings,))
        impact_dtype = np.uint8 if self.bits == 8 else np.uint16
        post_impacts = self._stage.open_array("post_impacts", impact_dtype, (n_postings,))
        cursor = term_offsets[:-1].copy()
        for offset, indptr, indices, values in self._chunks():
            scatter_postings(indptr, np.ascontiguousarray(indices),
                             self._quantize(values, scale), offset, cursor, post_docs,
                             post_impacts)
        self._stage.save_array("term_offsets", term_offsets)
        # Per-term maximum impact: the upper bounds dynamic pruning needs.
        term_max = np.zeros(self.dim, dtype=impact_dtype)
        nonempty = np.flatnonzero(df)
        if n_postings:
            term_max[nonempty] = np.maximum.reduceat(np.asarray(post_impacts),
                                                     term_offsets[nonempty])
        self._stage.save_array("term_max", term_max)
        from lsr.index._kernels import build_blocks

        block_offsets, block_max, block_last = build_blocks(term_offsets, post_docs,
                                                            post_impacts, BLOCK_SIZE)
        self._stage.save_array("block_offsets", block_offsets)
        self._stage.save_array("block_max", block_max)
        self._stage.save_array("block_last", block_last)
        for name, strings in (("doc_ids", self._ids), ("titles", self._titles)):
            if strings is None:
                continue
            data, offsets = encode_strings(strings)
            self._stage.save_array(f"{name}.data", data)
            self._stage.save_array(f"{name}.offsets", offsets)
        shutil.rmtree(self._scratch)
        if self.approx is not None:
            arrays = build_approx_arrays(term_offsets, post_docs, post_impacts, doc_nnz,
                                         self.approx)
            for name, array in arrays.items():
                self._stage.save_array(name, array)
            del arrays
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "num_docs": self._n_docs,
            "num_postings": n_postings,
            "dim": self.dim,
            "quantization": {"bits": self.bits, "scale": scale, "max_weight": self._max},
            "block_size": BLOCK_SIZE,
            "approx": self.approx.to_json() if self.approx is not None else None,
            "encoder": self.encoder.config() if self.encoder is not None else None,
            "vocab_fingerprint": (
                self.encoder.vocab_fingerprint() if self.encoder is not None else None
            ),
        }
        if self.encoder is not None:
            (self._stage.path / ENCODER_DIR).mkdir()
            self.encoder.save_query_side(self._stage.path / ENCODER_DIR)
        self._done = True
        return self._stage.commit(manifest)
