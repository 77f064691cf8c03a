"""Save/load round trips, atomic writes and clear errors for damaged or foreign indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsr import IndexFormatError, SparseBatch, VocabularyMismatchError
from lsr.index import DenseIndex, SparseIndex, SparseIndexBuilder
from lsr.index.sparse_index import FORMAT_VERSION

DATA = Path(__file__).resolve().parents[1] / "data"


def test_save_load_round_trip_is_memory_mapped(collection, tmp_path):
    docs, queries, ids = collection
    index = SparseIndex.build(docs, ids, titles=[f"t{i}" for i in range(len(ids))])
    index.save(tmp_path / "idx")
    loaded = SparseIndex.load(tmp_path / "idx")
    assert isinstance(loaded.post_docs, np.memmap)
    assert loaded.doc_ids[5] == "doc-5" and loaded.titles[5] == "t5"
    a, b = index.search(queries, k=10), loaded.search(queries, k=10)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert loaded.manifest["format_version"] == FORMAT_VERSION
    assert loaded.manifest["checksum"] == "xxh3_128"
    assert loaded.manifest["arrays"]["post_docs"]["xxh3_128"]


def test_existing_index_is_not_overwritten_without_permission(collection, tmp_path):
    docs, _, ids = collection
    SparseIndex.build(docs, ids).save(tmp_path / "idx")
    with pytest.raises(FileExistsError, match="overwrite"):
        SparseIndex.build(docs, ids).save(tmp_path / "idx")
    SparseIndex.build(docs[:10], ids[:10]).save(tmp_path / "idx", overwrite=True)
    assert SparseIndex.load(tmp_path / "idx").num_docs == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no leftovers


def test_failed_build_leaves_nothing_behind(collection, tmp_path):
    docs, _, ids = collection
    SparseIndex.build(docs[:5], ids[:5]).save(tmp_path / "idx")
    with pytest.raises(RuntimeError, match="boom"):
        with SparseIndexBuilder(tmp_path / "idx", dim=docs.dim, overwrite=True) as builder:
            builder.add(docs[:50], ids[:50])
            raise RuntimeError("boom")
    # The old index is intact and no staging directory is left.
    assert SparseIndex.load(tmp_path / "idx").num_docs == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


@pytest.fixture
def saved(collection, tmp_path):
    docs, _, ids = collection
    path = tmp_path / "idx"
    SparseIndex.build(docs, ids).save(path)
    return path


def test_truncated_array_is_detected(saved):
    file = saved / "post_docs.npy"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(IndexFormatError, match="post_docs.npy"):
        SparseIndex.load(saved, verify=False)
    with pytest.raises(IndexFormatError, match="corrupted"):
        SparseIndex.load(saved)


def test_flipped_byte_is_detected_by_checksum(saved):
    file = saved / "post_impacts.npy"
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="checksum differs"):
        SparseIndex.load(saved)


def test_missing_array_and_missing_manifest(saved, tmp_path):
    (saved / "term_offsets.npy").unlink()
    with pytest.raises(IndexFormatError, match="term_offsets.npy is missing"):
        SparseIndex.load(saved)
    with pytest.raises(IndexFormatError, match="does not exist"):
        SparseIndex.load(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(IndexFormatError, match="not an lsr index"):
        SparseIndex.load(tmp_path / "plain")


def test_other_format_version_says_how_to_fix(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format_version"] = 99
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format_version 99.*rebuild"):
        SparseIndex.load(saved)


def test_dense_index_refuses_a_sparse_directory(saved):
    with pytest.raises(IndexFormatError, match="'lsr-sparse-index' index, expected"):
        DenseIndex.load(saved)


def test_corrupted_manifest(saved):
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="manifest.json is corrupted"):
        SparseIndex.load(saved)


class _FakeEncoder:
    """The minimum of the encoder contract the index uses."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.dim = len(vocab)

    def vocab_fingerprint(self):
        from lsr.encoders import fingerprint

        return fingerprint(self.vocab)

    def config(self):
        return {"kind": "fake"}

    def save_query_side(self, directory):
        (directory / "vocab.txt").write_text("\n".join(self.vocab))


def test_encoder_vocabulary_mismatch_is_refused(collection, tmp_path):
    docs, _, ids = collection
    vocab = [f"t{i}" for i in range(docs.dim)]
    index = SparseIndex.build(docs, ids, encoder=_FakeEncoder(vocab))
    index.check_encoder(_FakeEncoder(vocab))
    with pytest.raises(VocabularyMismatchError, match="differs"):
        index.check_encoder(_FakeEncoder(vocab[::-1]))
    with pytest.raises(VocabularyMismatchError, match="terms"):
        index.check_encoder(_FakeEncoder(vocab[:10]))
    # The encoder's query-side files travel with the index through save/load.
    index.save(tmp_path / "idx")
    assert (tmp_path / "idx" / "encoder" / "vocab.txt").read_text().startswith("t0\nt1")
    assert SparseIndex.load(tmp_path / "idx").manifest["files"]["encoder/vocab.txt"]


@pytest.mark.parametrize("version", [1, 2])
def test_frozen_sparse_fixtures_still_load_and_answer(version, tmp_path):
    index = SparseIndex.load(DATA / f"sparse_index_v{version}")
    expected = json.loads((DATA / f"sparse_index_v{version}.expected.json").read_text())
    q = expected["queries"]
    queries = SparseBatch(np.array(q["indptr"]), np.array(q["indices"]),
                          np.array(q["values"]), q["dim"])
    result = index.search(queries, k=5)
    for i, hits in enumerate(expected["hits"]):
        got = result.hits(i)
        assert [h[0] for h in got] == [h[0] for h in hits]
        np.testing.assert_allclose([h[1] for h in got], [h[1] for h in hits], rtol=1e-5)
        for algorithm in ("exhaustive", "maxscore", "blockmax"):
            other = index.search(queries[i:i + 1], k=5, algorithm=algorithm).hits(0)
            assert [h[0] for h in other] == [h[0] for h in hits]
    assert index.titles[3] == "Title of document 3"
    # Saving an old index upgrades it to the current format.
    index.save(tmp_path / "upgraded")
    upgraded = SparseIndex.load(tmp_path / "upgraded")
    assert upgraded.manifest["format_version"] == FORMAT_VERSION
    assert "block_max" in upgraded.manifest["arrays"]


def test_frozen_v1_dense_fixture_still_loads_and_answers():
    pytest.importorskip("faiss")
    index = DenseIndex.load(DATA / "dense_index_v1")
    vectors = np.load(DATA / "dense_index_v1.vectors.npy")
    result = index.search(vectors[:4], k=3)
    brute = vectors[:4] @ vectors.T
    for i in range(4):
        assert result.indices[i].tolist() == np.argsort(-brute[i], kind="stable")[:3].tolist()


def test_dense_round_trip_and_errors(tmp_path):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    index = DenseIndex.build(vectors, [str(i) for i in range(50)])
    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense")
    result = loaded.search(vectors[:3], k=60)
    assert result.indices.shape == (3, 60) and (result.indices[:, 50:] == -1).all()
    assert result.indices[:, 0].tolist() == np.argmax(vectors[:3] @ vectors.T, 1).tolist()
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        loaded.search(np.ones((2, 5), np.float32))
    shutil.rmtree(tmp_path / "dense")
