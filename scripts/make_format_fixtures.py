"""Write the frozen index fixtures under tests/data/ (run once per new format version).

The fixture holds a tiny index plus the queries and the hits it must return, so that future
versions of lsr are tested to still load and search indexes written by this one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from lsr import SparseBatch
from lsr.index import DenseIndex, SparseIndex
from lsr.index.sparse_index import FORMAT_VERSION


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "tests" / "data"
    rng = np.random.default_rng(2026)
    docs = sp.random(40, 64, density=0.15, random_state=rng, format="csr", dtype=np.float32)
    queries = sp.random(5, 64, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    ids = [f"doc{i:02d}" for i in range(40)]
    titles = [f"Title of document {i}" for i in range(40)]
    index = SparseIndex.build(SparseBatch.from_scipy(docs), ids, titles=titles)
    target = out / f"sparse_index_v{FORMAT_VERSION}"
    index.save(target, overwrite=True)
    qbatch = SparseBatch.from_scipy(queries)
    result = index.search(qbatch, k=5)
    expected = {
        "queries": {"indptr": qbatch.indptr.tolist(), "indices": qbatch.indices.tolist(),
                    "values": qbatch.values.tolist(), "dim": 64},
        "hits": [result.hits(i) for i in range(len(result))],
    }
    (out / f"sparse_index_v{FORMAT_VERSION}.expected.json").write_text(json.dumps(expected))
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    DenseIndex.build(vectors, [f"d{i}" for i in range(20)]).save(
        out / "dense_index_v1", overwrite=True)
    np.save(out / "dense_index_v1.vectors.npy", vectors)
    sys.stdout.write(f"wrote fixtures under {out}\n")


if __name__ == "__main__":
    main()
