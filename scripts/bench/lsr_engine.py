"""Our own index, ``lsr.index.SparseIndex``, in each of its search modes.

- ``lsr-exact``: exhaustive term-at-a-time scoring (``algorithm="exhaustive"`` once search
  modes exist; the only algorithm of index format v1).
- ``lsr-maxscore`` / ``lsr-blockmax`` / ``lsr-auto``: exact dynamic pruning.
- ``lsr-approx``: the approximate (Seismic-family) mode, swept over ``query_cut`` x
  ``heap_factor``.

Modes the installed index does not have yet are skipped with the reason, detected from the
signatures of ``SparseIndex.build`` / ``SparseIndex.search``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from bench.common import Collection, Engine, K, Skip

ALGORITHMS = {"lsr-exact": "exhaustive", "lsr-maxscore": "maxscore",
              "lsr-blockmax": "blockmax", "lsr-auto": "auto"}
DEFAULT_APPROX_GRID = [(5, 0.9), (10, 0.9), (10, 1.0), (20, 0.9), (20, 1.0), (40, 1.0)]


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _quantized_docs(index) -> sp.csr_matrix:
    """The stored impacts as float64 CSR (n_docs, dim), unscaled: ranking is scale-free."""
    offsets = np.asarray(index.term_offsets)
    terms = np.repeat(np.arange(offsets.size - 1, dtype=np.int32), np.diff(offsets))
    return sp.csr_matrix((np.asarray(index.post_impacts, dtype=np.float64),
                          (np.asarray(index.post_docs), terms)),
                         shape=(index.num_docs, offsets.size - 1))


class LsrEngine(Engine):
    exact = True
    batch_threads = (1, 2)
    touched_note = "exhaustive count (the index reports no counter)"

    def __init__(self, name: str, *, bits: int = 8, approx_grid=None):
        from lsr.index import SparseIndex

        self.name = name
        self.bits = bits
        self.approx = name == "lsr-approx"
        self.algorithm = ALGORITHMS.get(name)
        self.grid = [tuple(g) for g in (approx_grid or DEFAULT_APPROX_GRID)]
        build_params = inspect.signature(SparseIndex.build).parameters
        search_params = inspect.signature(SparseIndex.search).parameters
        self._has_modes = "mode" in search_params
        self._has_algorithms = "algorithm" in search_params
        self._has_path = "path" in build_params
        if self.approx and not ("approx" in build_params and self._has_modes):
            raise Skip("SparseIndex has no approximate mode yet (build(approx=...), "
                       "search(mode='approx'))")
        if self.algorithm not in (None, "exhaustive") and not self._has_algorithms:
            raise Skip(f"SparseIndex.search has no algorithm={self.algorithm!r} yet")
        self.exact = not self.approx
        self._kwargs: dict = {}
        self.index = None
        self._disk_bytes = None

    def preload(self) -> None:
        """Load the Numba kernels on a toy index, so JIT/LLVM memory is not the index's."""
        from lsr.index import SparseIndex
        from lsr.sparse import SparseBatch

        toy = SparseBatch.from_rows([([0, 1], [1.0, 2.0]), ([1, 2], [0.5, 1.0])], dim=3)
        index = SparseIndex.build(toy, ["a", "b"], bits=self.bits,
                                  **({"approx": True} if self.approx else {}))
        self.configure({} if not self.approx else {"query_cut": 2, "heap_factor": 1.0})
        index.search(toy, 1, threads=1, **self._kwargs)

    def build(self, coll: Collection, workdir: str) -> None:
        from lsr.index import SparseIndex

        ids = [str(i) for i in range(coll.n_docs)]
        kwargs = {"bits": self.bits}
        if self._has_path:
            kwargs["path"] = str(Path(workdir) / "lsr-index")
        if self.approx:
            kwargs["approx"] = True
        self.index = SparseIndex.build(coll.docs, ids, **kwargs)
        if self._has_path and Path(kwargs["path"]).is_dir():
            self._disk_bytes = _dir_bytes(Path(kwargs["path"]))

    def settings(self) -> list[dict]:
        if self.approx:
            return [{"query_cut": qc, "heap_factor": hf} for qc, hf in self.grid]
        return [{}]

    def configure(self, setting: dict) -> None:
        kwargs: dict = {}
        if self.approx:
            kwargs = {"mode": "approx", **setting}
        else:
            if self._has_modes:
                kwargs["mode"] = "exact"
            if self._has_algorithms:
                kwargs["algorithm"] = self.algorithm
        self._kwargs = kwargs

    def search_one(self, q):
        return self.index.search(q, K, threads=1, **self._kwargs)

    def decode(self, raw) -> np.ndarray:
        return raw.indices[0]

    def search_batch(self, prepared, threads: int):
        from lsr.sparse import SparseBatch

        if not hasattr(self, "_all") or len(self._all) != len(prepared):
            self._all = SparseBatch.concat(prepared)
        return self.index.search(self._all, K, threads=threads, **self._kwargs)

    def index_bytes(self) -> int:
        return self._disk_bytes if self._disk_bytes is not None else int(self.index.nbytes)

    def postings(self) -> int:
        return int(self.index.num_postings)

    def own_weights(self, coll: Collection):
        return _quantized_docs(self.index), coll.query_matrix()

    def build_info(self) -> dict:
        return {"bits": self.bits, "on_disk": self._disk_bytes is not None}


def make(name: str, spec: dict) -> Engine:
    return LsrEngine(name, bits=spec.get("bits", 8), approx_grid=spec.get("approx_grid"))
