"""``import lsr`` and BM25 / inference-free search must not import torch or faiss."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from lsr import SparseBatch


def _modules_after(code: str) -> set[str]:
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_import_lsr_is_light():
    mods = _modules_after("import lsr, lsr.index, lsr.eval, lsr.train")
    for heavy in ("torch", "faiss", "transformers", "numba"):
        assert heavy not in mods, f"import lsr pulled in {heavy}"


def test_searching_a_bm25_index_imports_neither_torch_nor_faiss(tmp_path):
    from lsr.corpus import Document
    from lsr.encoders import load_encoder
    from lsr.index.build import index_corpus

    docs = [Document(str(i), t) for i, t in enumerate(
        ["sparse retrieval with inverted indexes", "dense retrieval with vectors",
         "cooking pasta at home", "the inverted index of a search engine"])]
    index_corpus(lambda: iter(docs), tmp_path / "bm25", load_encoder("bm25"))
    mods = _modules_after(
        "from lsr.cli import main\n"
        f"assert main(['search', r'{tmp_path / 'bm25'}', 'inverted index', '-k', '2']) == 0\n"
    )
    assert "torch" not in mods and "faiss" not in mods and "transformers" not in mods


def test_sparse_batch_validates_input():
    import pytest

    with pytest.raises(ValueError, match="term ids must lie"):
        SparseBatch(np.array([0, 1]), np.array([5]), np.array([1.0]), 3)
    with pytest.raises(ValueError, match="finite"):
        SparseBatch(np.array([0, 1]), np.array([0]), np.array([np.nan]), 3)
