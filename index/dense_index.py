"""``DenseIndex``: exact inner-product search over dense vectors with FAISS.

Vectors are stored as ``vectors.npy`` (float32, memory-mapped on load) in the same manifest
format as the sparse index; the FAISS ``IndexFlatIP`` is built from them on first search, so
the on-disk format does not depend on FAISS's own serialization.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lsr.errors import IndexFormatError, InputError, require
from lsr.index.strings import StringTable, encode_strings
from lsr.manifest import load_arrays, read_manifest, write_index_dir
from lsr.results import SearchResult, check_k

FORMAT = "lsr-dense-index"
FORMAT_VERSION = 1
REBUILD = "rebuild the index with `lsr index --encoder dense:...` (or DenseIndex.build)"


class DenseIndex:
    """Exact maximum-inner-product search; ``build``/``load``/``save``/``search``."""

    def __init__(self, arrays: dict[str, np.ndarray], manifest: dict, path: Path | None = None):
        self._arrays = arrays
        self.manifest = manifest
        self.path = path
        self.vectors = arrays["vectors"]
        self.doc_ids = StringTable(arrays["doc_ids.data"], arrays["doc_ids.offsets"])
        self.titles = (
            StringTable(arrays["titles.data"], arrays["titles.offsets"])
            if "titles.data" in arrays else None
        )
        self._faiss = None

    @classmethod
    def build(cls, vectors: np.ndarray, ids: Sequence[str], *,
              titles: Sequence[str] | None = None, encoder=None) -> DenseIndex:
        """In-memory index over float32 ``vectors`` of shape (n, dim), one id per row."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] == 0:
            raise InputError(f"vectors must be a non-empty (n, dim) array, got {vectors.shape}")
        if len(ids) != vectors.shape[0]:
            raise InputError(f"got {len(ids)} ids for {vectors.shape[0]} vectors")
        if len(set(ids)) != len(ids):
            raise InputError("document ids must be unique")
        if not np.all(np.isfinite(vectors)):
            raise InputError("vectors must be finite (found NaN or inf)")
        arrays = {"vectors": vectors}
        arrays["doc_ids.data"], arrays["doc_ids.offsets"] = encode_strings(ids)
        if titles is not None:
            arrays["titles.data"], arrays["titles.offsets"] = encode_strings(titles)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "num_docs": int(vectors.shape[0]),
            "dim": int(vectors.shape[1]),
            "metric": "inner_product",
            "encoder": encoder.config() if encoder is not None else None,
        }
        return cls(arrays, manifest)

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True, verify: bool = True) -> DenseIndex:
        path = Path(path)
        manifest = read_manifest(path, expected_format=FORMAT,
                                 supported_versions=(FORMAT_VERSION,), rebuild_hint=REBUILD)
        arrays = load_arrays(path, manifest, verify=verify, mmap=mmap, rebuild_hint=REBUILD)
        if "vectors" not in arrays or "doc_ids.data" not in arrays:
            raise IndexFormatError(f"{path} lacks its vectors or document ids; {REBUILD}")
        return cls(arrays, manifest, path)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the index to a directory atomically (temp dir + rename)."""
        self.path = write_index_dir(path, self._arrays, self.manifest, overwrite=overwrite)
        return self.path

    @property
    def num_docs(self) -> int:
        return int(self.manifest["num_docs"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def encoder_config(self) -> dict | None:
        return self.manifest.get("encoder")

    @property
    def nbytes(self) -> int:
        return int(sum(np.asarray(a).nbytes for a in self._arrays.values()))

    def __len__(self) -> int:
        return self.num_docs

    def _flat(self):
        if self._faiss is None:
            faiss = require("faiss", "dense")
            flat = faiss.IndexFlatIP(self.dim)
            flat.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
            self._faiss = flat
        return self._faiss

    def search(self, queries: np.ndarray, k: int = 10, *,
               threads: int | None = None) -> SearchResult:
        """Exact top-``k`` inner product; queries float32 (n, dim) or (dim,)."""
        k = check_k(k)
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise InputError(
                f"queries must have shape (n, {self.dim}), got {queries.shape}; encode them "
                "with the encoder the index was built with"
            )
        faiss = require("faiss", "dense")
        if threads is not None:
            faiss.omp_set_num_threads(int(threads))
        k_eff = min(int(k), self.num_docs)
        scores, idx = self._flat().search(queries, k_eff)
        if k_eff < k:
            idx = np.pad(idx, ((0, 0), (0, k - k_eff)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, k - k_eff)))
        return SearchResult(idx.astype(np.int64), scores.astype(np.float32), self.doc_ids)

    def query_encoder(self):
        from lsr.encoders import encoder_from_config

        if self.encoder_config is None:
            raise InputError("this index records no encoder; encode queries yourself")
        return encoder_from_config(self.encoder_config)

    def search_text(self, texts: Sequence[str] | str, k: int = 10, *,
                    threads: int | None = None) -> SearchResult:
        if isinstance(texts, str):
            texts = [texts]
        return self.search(self.query_encoder().encode_queries(list(texts)), k, threads=threads)


