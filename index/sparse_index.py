"""``SparseIndex``: an impact-quantized inverted index over learned sparse vectors.

Layout (format ``lsr-sparse-index`` v1): per term ``t`` the documents containing it are
``post_docs[term_offsets[t]:term_offsets[t + 1]]`` (int32, increasing) with quantized impacts in
``post_impacts`` (uint8 or uint16). Document ids and titles are string tables.

Quantization: ``impact = round(w / scale)`` with ``scale = max_w / (2**bits - 1)`` over the whole
collection; postings whose impact rounds to 0 are dropped. Each stored weight is off by at most
``scale / 2``, so a query's score for a document is off by at most
``scale / 2 * sum(|q_t|)`` over the terms they share. Search is exact over the quantized weights:
it returns precisely what brute force over the dequantized matrix returns (ties broken by lower
document number). 8 bits is the default, as in PISA and Anserini impact indexes.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from lsr.encoders.base import SparseEncoder
from lsr.errors import IndexFormatError, InputError, VocabularyMismatchError
from lsr.index.strings import StringTable, encode_strings
from lsr.manifest import StagingDir, load_arrays, read_manifest
from lsr.results import SearchResult
from lsr.sparse import SparseBatch

logger = logging.getLogger(__name__)

FORMAT = "lsr-sparse-index"
FORMAT_VERSION = 2
# v1 lacked the block-max arrays; they are computed on load for v1 indexes.
SUPPORTED_VERSIONS = (1, 2)
BLOCK_SIZE = 64  # postings per block-max block: PISA's default for fixed-size blocks
QUERY_LEVELS = (1 << 20) - 1  # query weights become integers in [0, 2**20): ~5e-7 relative error
Algorithm = Literal["auto", "exhaustive", "maxscore", "blockmax"]
REBUILD = "rebuild the index with `lsr index` (or SparseIndex.build)"
ENCODER_DIR = "encoder"


def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


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


def quantize_queries(queries: SparseBatch) -> tuple[np.ndarray, np.ndarray]:
    """Integer query weights: ``(weights int64 (nnz,), scale float64 (n,))``.

    Each row is divided by the power of two that brings its largest |weight| to at most
    ``QUERY_LEVELS``; a weight's rounding error is at most ``scale / 2`` (relative 1e-6 of the
    row maximum). Integer weights make
    scores exact sums, identical whatever order an algorithm adds them in.
    """
    n = len(queries)
    scale = np.ones(n, dtype=np.float64)
    values = np.abs(queries.values.astype(np.float64))
    nnz = queries.nnz_per_row()
    rows = np.flatnonzero(nnz)
    if rows.size:
        top = np.maximum.reduceat(values, queries.indptr[rows])
        # A power-of-two scale divides exactly: integer-valued weights stay exact integers,
        # so ties between documents survive quantization.
        with np.errstate(divide="ignore"):
            scale[rows] = np.where(top > 0, np.exp2(np.ceil(np.log2(top / QUERY_LEVELS))), 1.0)
    per_value = np.repeat(scale, nnz)
    weights = np.rint(queries.values / per_value).astype(np.int64)
    return weights, scale


class SparseIndexBuilder:
    """Streams ``SparseBatch`` chunks into an index directory with bounded memory.

    Chunks are spilled to scratch files inside the staging directory; ``finish`` makes two
    passes over them (document frequencies, then scattering postings into memory-mapped
    output arrays), so memory holds one chunk plus per-term counters, never a dense matrix.
    """

    def __init__(self, path: str | Path, *, dim: int, bits: int = 8,
                 encoder: SparseEncoder | None = None, overwrite: bool = False):
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
        import shutil

        shutil.rmtree(self._scratch)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "num_docs": self._n_docs,
            "num_postings": n_postings,
            "dim": self.dim,
            "quantization": {"bits": self.bits, "scale": scale, "max_weight": self._max},
            "block_size": BLOCK_SIZE,
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


class SparseIndex:
    """An inverted index over sparse document vectors; exact top-k search.

    Build with ``SparseIndex.build`` (in memory) or ``SparseIndexBuilder`` (streaming, on
    disk); open with ``SparseIndex.load`` (memory-mapped).
    """

    def __init__(self, arrays: dict[str, np.ndarray], manifest: dict, *,
                 encoder_files: dict[str, bytes], path: Path | None = None):
        self._arrays = arrays
        self.manifest = manifest
        self.path = path
        self._encoder_files = encoder_files
        self.term_offsets = arrays["term_offsets"]
        self.post_docs = arrays["post_docs"]
        self.post_impacts = arrays["post_impacts"]
        self.term_max = arrays["term_max"]
        self.doc_nnz = arrays["doc_nnz"]
        self.doc_ids = StringTable(arrays["doc_ids.data"], arrays["doc_ids.offsets"])
        self.titles = (
            StringTable(arrays["titles.data"], arrays["titles.offsets"])
            if "titles.data" in arrays else None
        )
        self._query_encoder = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, docs: SparseBatch, ids: Sequence[str], *,
              titles: Sequence[str] | None = None, encoder: SparseEncoder | None = None,
              bits: int = 8, chunk_size: int = 65536) -> SparseIndex:
        """Build an in-memory index from ``docs`` (one external id per row)."""
        with tempfile.TemporaryDirectory(prefix="lsr-build-") as tmp:
            with SparseIndexBuilder(Path(tmp) / "index", dim=docs.dim, bits=bits,
                                    encoder=encoder) as builder:
                for start in range(0, max(len(docs), 1), chunk_size):
                    stop = start + chunk_size
                    builder.add(docs[start:stop], ids[start:stop],
                                None if titles is None else titles[start:stop])
                path = builder.finish()
            return cls.load(path, mmap=False, verify=False)

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True, verify: bool = True) -> SparseIndex:
        """Open an index directory; arrays are memory-mapped unless ``mmap=False``.

        ``verify`` checks every file's sha256 against the manifest (reads each file once).
        """
        path = Path(path)
        manifest = read_manifest(path, expected_format=FORMAT,
                                 supported_versions=SUPPORTED_VERSIONS, rebuild_hint=REBUILD)
        arrays = load_arrays(path, manifest, verify=verify, mmap=mmap, rebuild_hint=REBUILD)
        required = ("term_offsets", "post_docs", "post_impacts", "term_max", "doc_nnz",
                    "doc_ids.data", "doc_ids.offsets")
        missing = [name for name in required if name not in arrays]
        if missing:
            raise IndexFormatError(f"{path} lacks arrays {missing}; {REBUILD}")
        n_docs, dim = manifest["num_docs"], manifest["dim"]
        if (arrays["term_offsets"].shape != (dim + 1,)
                or arrays["doc_ids.offsets"].shape != (n_docs + 1,)
                or arrays["post_docs"].shape != (manifest["num_postings"],)):
            raise IndexFormatError(f"{path}: array shapes disagree with the manifest; {REBUILD}")
        encoder_files = {}
        encoder_dir = path / ENCODER_DIR
        if encoder_dir.is_dir():
            for file in sorted(encoder_dir.rglob("*")):
                if file.is_file():
                    encoder_files[file.relative_to(encoder_dir).as_posix()] = file.read_bytes()
        return cls(arrays, manifest, encoder_files=encoder_files, path=path)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the index to a directory atomically (temp dir + rename), in the current format."""
        self._blocks()
        with StagingDir(path, overwrite=overwrite) as stage:
            for name, array in self._arrays.items():
                stage.save_array(name, np.asarray(array))
            for rel, data in self._encoder_files.items():
                target = stage.path / ENCODER_DIR / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            keep = {k: v for k, v in self.manifest.items()
                    if k not in ("arrays", "files", "created", "lsr_version")}
            keep["format_version"] = FORMAT_VERSION
            target = stage.commit(keep)
        self.path = target
        return target

    # -- properties ---------------------------------------------------------------------------
    @property
    def num_docs(self) -> int:
        return int(self.manifest["num_docs"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def num_postings(self) -> int:
        return int(self.manifest["num_postings"])

    @property
    def scale(self) -> float:
        return float(self.manifest["quantization"]["scale"])

    @property
    def encoder_config(self) -> dict | None:
        return self.manifest.get("encoder")

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays (what the index occupies on disk, less the manifest)."""
        return int(sum(np.asarray(a).nbytes for a in self._arrays.values()))

    def __len__(self) -> int:
        return self.num_docs

    def __repr__(self) -> str:
        kind = (self.encoder_config or {}).get("kind", "unknown")
        return (f"SparseIndex(docs={self.num_docs}, postings={self.num_postings}, "
                f"dim={self.dim}, encoder={kind!r}, path={self.path})")

    # -- encoders -----------------------------------------------------------------------------
    def check_encoder(self, encoder: SparseEncoder) -> None:
        """Raise ``VocabularyMismatchError`` unless ``encoder`` has the index's vocabulary."""
        expected = self.manifest.get("vocab_fingerprint")
        if encoder.dim != self.dim:
            raise VocabularyMismatchError(
                f"the encoder has {encoder.dim} terms but the index was built over {self.dim}; "
                "use the encoder the index was built with, or rebuild the index"
            )
        if expected is not None and encoder.vocab_fingerprint() != expected:
            raise VocabularyMismatchError(
                "the encoder's vocabulary differs from the one the index was built with "
                f"(index encoder: {self.encoder_config}); use that encoder or rebuild the index"
            )

    def query_encoder(self) -> SparseEncoder:
        """The query side of the encoder the index was built with (cached).

        BM25 and inference-free indexes carry their query encoder and need no model; other
        kinds reload the model named in the manifest.
        """
        if self._query_encoder is None:
            from lsr.encoders import load_query_encoder

            config = self.encoder_config
            if config is None:
                raise InputError(
                    "this index records no encoder; encode queries yourself and call search()"
                )
            if self.path is not None and (self.path / ENCODER_DIR).is_dir():
                encoder = load_query_encoder(self.path / ENCODER_DIR, config)
            else:
                with tempfile.TemporaryDirectory(prefix="lsr-encoder-") as tmp:
                    for rel, data in self._encoder_files.items():
                        (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                        (Path(tmp) / rel).write_bytes(data)
                    encoder = load_query_encoder(Path(tmp), config)
            self.check_encoder(encoder)
            self._query_encoder = encoder
        return self._query_encoder

    # -- search -------------------------------------------------------------------------------
    def _blocks(self):
        """Block-max arrays (stored since format v2; computed once for v1 indexes)."""
        if "block_offsets" not in self._arrays:
            from lsr.index._kernels import build_blocks

            offsets, maxima, last = build_blocks(self.term_offsets, self.post_docs,
                                                 self.post_impacts, BLOCK_SIZE)
            self._arrays.update(block_offsets=offsets, block_max=maxima, block_last=last)
            self.manifest["block_size"] = BLOCK_SIZE
        return (self._arrays["block_offsets"], self._arrays["block_max"],
                self._arrays["block_last"], int(self.manifest["block_size"]))

    def _choose(self, q_weights: np.ndarray, algorithm: Algorithm) -> Algorithm:
        if algorithm not in ("auto", "exhaustive", "maxscore", "blockmax"):
            raise InputError(
                f"algorithm must be auto, exhaustive, maxscore or blockmax, got {algorithm!r}")
        if algorithm != "exhaustive" and q_weights.size and q_weights.min() < 0:
            # Pruning bounds assume non-negative contributions.
            if algorithm != "auto":
                logger.warning("negative query weights: using exhaustive search")
            return "exhaustive"
        return "blockmax" if algorithm == "auto" else algorithm

    def search(self, queries: SparseBatch, k: int = 10, *, threads: int | None = None,
               algorithm: Algorithm = "auto") -> SearchResult:
        """Exact top-``k`` by dot product for every query row.

        ``algorithm``: ``exhaustive`` (term-at-a-time over every posting), ``maxscore``,
        ``blockmax`` (block-max MaxScore) or ``auto`` (block-max unless a query weight is
        negative). All return the same hits: scores are exact integer sums of quantized query
        weights (20 bits per query) times quantized impacts, ties go to the lower document
        number. Returns a ``SearchResult`` with (n, k) int64 indices and float32 scores
        (dequantized), best first; only documents scoring above zero are returned, the rest
        is ``-1`` padded. ``threads`` caps the Numba threads (default: all cores).
        """
        k = _check_k(k)
        if not isinstance(queries, SparseBatch):
            raise InputError(
                f"queries must be a SparseBatch, got {type(queries).__name__}; encode them with "
                "encoder.encode_queries(texts) or use search_text()"
            )
        if queries.dim != self.dim:
            raise VocabularyMismatchError(
                f"queries have dim {queries.dim} but the index was built over {self.dim} terms; "
                "encode them with the index's encoder"
            )
        q_weights, q_scale = quantize_queries(queries)
        algorithm = self._choose(q_weights, algorithm)
        k_eff = min(k, self.num_docs)
        import numba

        n_threads = numba.get_num_threads() if threads is None else int(threads)
        if n_threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            if algorithm == "exhaustive":
                from lsr.index._kernels import exact_search

                idx, raw = exact_search(queries.indptr, queries.indices, q_weights,
                                        self.term_offsets, self.post_docs, self.post_impacts,
                                        self.num_docs, k_eff, n_threads)
            else:
                from lsr.index._daat import daat_search

                offsets, maxima, last, size = self._blocks()
                idx, raw = daat_search(queries.indptr, queries.indices, q_weights,
                                       self.term_offsets, self.post_docs, self.post_impacts,
                                       self.term_max, offsets, maxima, last, size,
                                       algorithm == "blockmax", k_eff, n_threads)
        finally:
            numba.set_num_threads(previous)
        scores = (raw * (q_scale * self.scale)[:, None]).astype(np.float32)
        if k_eff < k:
            pad = k - k_eff
            idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)))
        return SearchResult(idx, scores, self.doc_ids)

    def search_text(self, texts: Sequence[str] | str, k: int = 10, *,
                    threads: int | None = None) -> SearchResult:
        """Encode ``texts`` with the index's own query encoder and search."""
        if isinstance(texts, str):
            texts = [texts]
        return self.search(self.query_encoder().encode_queries(list(texts)), k, threads=threads)

    # -- introspection ------------------------------------------------------------------------
    def dequantized(self, *, raw: bool = False):
        """The stored document matrix as scipy CSR (n_docs, dim): the oracle's input.

        float32 weights, or with ``raw=True`` the integer impacts as float64 (exact, so ties
        in integer-weighted tests stay ties).
        """
        import scipy.sparse as sp

        terms = np.repeat(np.arange(self.dim, dtype=np.int32), np.diff(self.term_offsets))
        if raw:
            values = np.asarray(self.post_impacts, dtype=np.float64)
        else:
            values = np.asarray(self.post_impacts, dtype=np.float32) * np.float32(self.scale)
        return sp.csr_matrix((values, (np.asarray(self.post_docs), terms)),
                             shape=(self.num_docs, self.dim))

    def stats(self) -> dict:
        return {
            "num_docs": self.num_docs,
            "num_postings": self.num_postings,
            "avg_doc_nnz": float(np.mean(self.doc_nnz)) if self.num_docs else 0.0,
            "bytes": self.nbytes,
            "bytes_per_posting": self.nbytes / max(self.num_postings, 1),
            "bits": int(self.manifest["quantization"]["bits"]),
        }
