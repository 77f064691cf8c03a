"""Inference-free encoder: IDF formula, idf.json, token-weight queries without torch, fit."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lsr.encoders import encoder_from_config, load_query_encoder
from lsr.encoders.inference_free import (
    TokenWeightQueryEncoder,
    compute_idf,
    load_idf_json,
    save_idf_json,
)
from lsr.errors import IndexFormatError, InputError

CORPUS = [
    "Sparse retrieval uses an inverted index.",
    "Dense retrieval uses vectors; sparse vectors are different.",
    "Cooking pasta at home.",
    "The inverted index of a search engine, and the index of a book.",
    "",
]
QUERIES = ["inverted index", "what is sparse retrieval? sparse!", "[CLS] pasta [SEP]", "", "zzzq"]


@pytest.fixture(scope="module")
def tokenizer(splade_tiny_tokenizer_file: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(splade_tiny_tokenizer_file))


@pytest.fixture(scope="module")
def weights(tokenizer) -> np.ndarray:
    rng = np.random.default_rng(0)
    table = rng.uniform(0.5, 5.0, tokenizer.get_vocab_size()).astype(np.float32)
    table[rng.random(table.size) < 0.1] = 0.0  # some tokens weigh nothing
    return table


def token_sets(tokenizer, texts):
    return [set(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts]


def test_compute_idf_matches_brute_force(tokenizer):
    idf = compute_idf(tokenizer, CORPUS, batch_size=2)
    assert idf.dtype == np.float32 and idf.shape == (tokenizer.get_vocab_size(),)
    n = len(CORPUS)
    sets = token_sets(tokenizer, CORPUS)
    special = {tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    for token_id in set().union(*sets) - special:
        df = sum(token_id in s for s in sets)
        assert idf[token_id] == pytest.approx(math.log(1 + (n - df + 0.5) / (df + 0.5)), rel=1e-6)
    unseen = tokenizer.token_to_id("zebra")
    assert idf[unseen] == pytest.approx(math.log(1 + (n + 0.5) / 0.5), rel=1e-6)
    assert all(idf[i] == 0 for i in special)
    assert idf[tokenizer.token_to_id("index")] < idf[tokenizer.token_to_id("pasta")]


def test_compute_idf_rejects_bad_input(tokenizer):
    with pytest.raises(InputError):
        compute_idf(tokenizer, [])
    with pytest.raises(InputError):
        compute_idf(tokenizer, "one string")
    with pytest.raises(InputError):
        compute_idf(tokenizer, CORPUS, vocab_size=100)


def test_idf_json_round_trip(tmp_path, tokenizer, weights):
    enc = TokenWeightQueryEncoder(tokenizer, weights)
    save_idf_json(tmp_path / "idf.json", enc.vocab, weights)
    table = json.loads((tmp_path / "idf.json").read_text())
    assert isinstance(table, dict) and table["index"] == pytest.approx(
        weights[tokenizer.token_to_id("index")]
    )
    np.testing.assert_array_equal(load_idf_json(tmp_path / "idf.json", enc.vocab), weights)


def test_idf_json_missing_tokens_weigh_zero(tmp_path, tokenizer):
    vocab = TokenWeightQueryEncoder(tokenizer, np.ones(tokenizer.get_vocab_size())).vocab
    (tmp_path / "idf.json").write_text(json.dumps({"index": 2.5, "pasta": 7.0, "notatoken!": 1}))
    table = load_idf_json(tmp_path / "idf.json", vocab)
    assert table[tokenizer.token_to_id("pasta")] == 7.0
    assert np.count_nonzero(table) == 2
    (tmp_path / "bad.json").write_text(json.dumps({"index": "high"}))
    with pytest.raises(InputError):
        load_idf_json(tmp_path / "bad.json", vocab)


def test_queries_are_binary_tokens_times_table(tokenizer, weights):
    enc = TokenWeightQueryEncoder(tokenizer, weights)
    batch = enc.encode_queries(QUERIES)
    assert len(batch) == len(QUERIES) and batch.dim == weights.size
    special = {tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]")}
    for i, ids in enumerate(token_sets(tokenizer, QUERIES)):
        expected = {j: weights[j] for j in ids - special if weights[j] != 0}
        got_ids, got_vals = batch.row(i)
        assert dict(zip(got_ids.tolist(), got_vals.tolist())) == pytest.approx(expected)
    with pytest.raises(InputError, match="query"):
        enc.encode_documents(["a document"])


def test_query_side_loads_and_encodes_without_torch(tmp_path, tokenizer, weights):
    config = {"kind": "inference-free", "name_or_path": "/nowhere/model", "max_length": 64}
    TokenWeightQueryEncoder(tokenizer, weights).save_query_side(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"tokenizer.json", "idf.json"}
    expected = TokenWeightQueryEncoder(tokenizer, weights).encode_queries(QUERIES)

    script = f"""
import json, sys
from pathlib import Path
from lsr.encoders import load_query_encoder
from lsr.encoders.inference_free import TokenWeightQueryEncoder
enc = TokenWeightQueryEncoder.load(Path({str(tmp_path)!r}), {config!r})
assert type(load_query_encoder(Path({str(tmp_path)!r}), {config!r})) is TokenWeightQueryEncoder
batch = enc.encode_queries({QUERIES!r})
heavy = [m for m in ("torch", "transformers") if m in sys.modules]
print(json.dumps({{"heavy": heavy, "indptr": batch.indptr.tolist(),
                  "indices": batch.indices.tolist(), "values": batch.values.tolist(),
                  "fingerprint": enc.vocab_fingerprint(), "config": enc.config()}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["heavy"] == []
    assert out["indptr"] == expected.indptr.tolist()
    assert out["indices"] == expected.indices.tolist()
    assert out["values"] == expected.values.tolist()
    assert out["fingerprint"] == TokenWeightQueryEncoder(tokenizer, weights).vocab_fingerprint()
    assert out["config"] == config


def test_load_reports_missing_files(tmp_path):
    with pytest.raises(IndexFormatError, match="tokenizer.json"):
        TokenWeightQueryEncoder.load(tmp_path, {"kind": "inference-free"})


def test_placeholder_ids_survive_save_and_load(tmp_path, tokenizer):
    """A model vocabulary larger than the tokenizer keeps its size through idf.json."""
    size = tokenizer.get_vocab_size() + 6
    enc = TokenWeightQueryEncoder(tokenizer, np.ones(size, dtype=np.float32))
    assert len(enc.vocab) == size and enc.vocab[-1] == f"[lsr_unused_{size - 1}]"
    enc.save_query_side(tmp_path)
    loaded = TokenWeightQueryEncoder.load(tmp_path)
    assert loaded.vocab == enc.vocab


# -- full encoder (needs torch and the splade-tiny model) ---------------------------------------
@pytest.fixture(scope="module")
def unfitted(splade_tiny_dir: Path):
    from lsr.encoders.inference_free import InferenceFreeEncoder

    return InferenceFreeEncoder.from_pretrained(str(splade_tiny_dir), max_length=64)


def test_needs_fit_until_fitted(splade_tiny_dir, unfitted, tokenizer):
    from lsr.encoders.inference_free import InferenceFreeEncoder

    assert unfitted.needs_fit and unfitted.query_needs_model is False
    with pytest.raises(InputError, match="fit"):
        unfitted.encode_queries(["inverted index"])
    with pytest.raises(InputError, match="fit"):
        unfitted.save_query_side(Path("/nonexistent"))
    enc = InferenceFreeEncoder(unfitted.document_encoder).fit(CORPUS)
    assert not enc.needs_fit
    idf = compute_idf(tokenizer, CORPUS)
    got = enc.encode_queries(["inverted index"]).to_dicts(enc.vocab)[0]
    assert got == pytest.approx({t: idf[tokenizer.token_to_id(t)] for t in ("inverted", "index")})
    docs = enc.encode_documents(CORPUS[:2])
    same = unfitted.document_encoder.encode_documents(CORPUS[:2])
    np.testing.assert_array_equal(docs.values, same.values)
    assert enc.query_encoder.vocab_fingerprint() == enc.vocab_fingerprint()


def test_idf_argument_and_config_round_trip(tmp_path, splade_tiny_dir, unfitted, weights):
    from lsr.encoders.inference_free import InferenceFreeEncoder

    save_idf_json(tmp_path / "table.json", unfitted.vocab, weights)
    enc = InferenceFreeEncoder.from_pretrained(
        str(splade_tiny_dir), idf=tmp_path / "table.json", max_length=64, top_k=32
    )
    config = json.loads(json.dumps(enc.config()))
    assert config["kind"] == "inference-free" and config["top_k"] == 32
    assert config["idf"] == str((tmp_path / "table.json").resolve())
    rebuilt = encoder_from_config(config)
    assert rebuilt.config() == config
    a, b = enc.encode_queries(QUERIES), rebuilt.encode_queries(QUERIES)
    np.testing.assert_array_equal(a.values, b.values)

    enc.save_query_side(tmp_path / "encoder")
    side = load_query_encoder(tmp_path / "encoder", config)
    np.testing.assert_array_equal(side.encode_queries(QUERIES).values, a.values)
    assert side.vocab_fingerprint() == enc.vocab_fingerprint()

    table = dict(zip(enc.vocab, weights.tolist()))
    from_dict = InferenceFreeEncoder.from_pretrained(str(splade_tiny_dir), idf=table,
                                                     max_length=64)
    assert "idf" not in from_dict.config()  # a dict table travels with the index, not the config
    np.testing.assert_array_equal(from_dict.encode_queries(QUERIES).values, a.values)
