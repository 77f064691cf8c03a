"""SpladeEncoder on the real splade-tiny model: known answers, fast path, pruning, order, config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lsr.encoders import encoder_from_config, fingerprint
from lsr.errors import InputError

MAX_LENGTH = 128
SHORT = "Sparse retrieval with SPLADE!"
LONG = (
    "Learned sparse retrieval expands documents with related vocabulary terms, weights them "
    "with a masked language model head and stores them in an inverted index."
)


@pytest.fixture(scope="module")
def splade(splade_tiny_dir: Path):
    from lsr.encoders.splade import SpladeEncoder

    return SpladeEncoder.from_pretrained(str(splade_tiny_dir), max_length=MAX_LENGTH)


def variant(splade, **options):
    """Another encoder over the same loaded model (no reload), with different options."""
    from lsr.encoders.splade import SpladeEncoder

    options.setdefault("max_length", MAX_LENGTH)
    return SpladeEncoder(splade.model, splade.tokenizer, name_or_path=splade.name_or_path,
                         **options)


@pytest.fixture(scope="module")
def reference(splade_tiny_dir: Path):
    """The model and tokenizer loaded independently of the encoder."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(splade_tiny_dir))
    model = AutoModelForMaskedLM.from_pretrained(str(splade_tiny_dir)).float().eval()
    return model, tokenizer


def hand_splade(reference, text: str, activation: str, pooling: str) -> np.ndarray:
    """SPLADE vector of one unpadded text, written out plainly: float32 (vocab,)."""
    import torch

    model, tokenizer = reference
    inputs = tokenizer([text], return_tensors="pt", truncation=True, max_length=MAX_LENGTH)
    with torch.no_grad():
        logits = model(**inputs).logits[0]  # (tokens, vocab)
    weights = torch.log(1 + torch.relu(logits))
    if activation == "log1p_log1p_relu":
        weights = torch.log(1 + weights)
    pooled = weights.max(dim=0).values if pooling == "max" else weights.sum(dim=0)
    pooled[tokenizer.all_special_ids] = 0
    return pooled.numpy()


def dense_rows(batch) -> np.ndarray:
    return batch.to_scipy().toarray()


@pytest.mark.parametrize(
    "activation, pooling, fast_path",
    [
        ("log1p_relu", "max", True),
        ("log1p_relu", "max", False),
        ("log1p_log1p_relu", "max", True),
        ("log1p_relu", "sum", True),
    ],
)
def test_known_answer_against_plain_torch(splade, reference, activation, pooling, fast_path):
    enc = variant(splade, activation=activation, pooling=pooling, fast_path=fast_path)
    # SHORT is padded in this batch: the comparison also checks the attention mask.
    got = dense_rows(enc.encode_documents([SHORT, LONG], batch_size=2))
    for row, text in zip(got, [SHORT, LONG]):
        expected = hand_splade(reference, text, activation, pooling)
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-5)
        assert (row > 0).sum() == (expected > 0).sum()


def test_fast_path_equals_slow_path_on_scifact(splade, scifact_texts):
    texts = scifact_texts[:8]
    fast = splade.encode_documents(texts, batch_size=4)
    slow = variant(splade, fast_path=False).encode_documents(texts, batch_size=4)
    assert np.abs(dense_rows(fast) - dense_rows(slow)).max() <= 1e-5
    np.testing.assert_array_equal(fast.indptr, slow.indptr)
    np.testing.assert_array_equal(fast.indices, slow.indices)


def test_output_contract(splade):
    batch = splade.encode_documents([SHORT, LONG, ""])
    assert len(batch) == 3 and batch.dim == 30522 == splade.dim
    assert batch.indices.dtype == np.int32 and batch.values.dtype == np.float32
    for i in range(3):
        ids, vals = batch.row(i)
        assert np.all(np.diff(ids) > 0) and np.all(vals > 0)
    empty = splade.encode_queries([])
    assert len(empty) == 0 and empty.nnz == 0 and empty.dim == 30522


def test_special_tokens_zeroed(splade):
    special = set(splade.tokenizer.all_special_ids)
    texts = [SHORT, LONG, "[MASK] [UNK] [SEP] literal special tokens"]
    zeroed = splade.encode_documents(texts)
    kept = variant(splade, zero_special_tokens=False).encode_documents(texts)
    assert not special & set(zeroed.indices.tolist())
    a, b = dense_rows(zeroed), dense_rows(kept)
    b[:, sorted(special)] = 0
    np.testing.assert_array_equal(a, b)


def test_threshold_and_top_k_pruning(splade):
    texts = [SHORT, LONG]
    full = dense_rows(splade.encode_documents(texts))

    thresholded = dense_rows(variant(splade, threshold=0.5).encode_documents(texts))
    np.testing.assert_array_equal(thresholded, np.where(full > 0.5, full, 0))

    top = variant(splade, top_k=7).encode_documents(texts)
    assert np.all(top.nnz_per_row() == 7)
    for row, ref in zip(dense_rows(top), full):
        np.testing.assert_allclose(np.sort(row[row > 0]), np.sort(ref)[-7:])

    both = variant(splade, top_k=500, threshold=1.0).encode_documents(texts)
    for row, ref in zip(dense_rows(both), full):
        kept = ref[ref > 1.0]
        np.testing.assert_allclose(np.sort(row[row > 0]), np.sort(kept)[-500:])


def test_length_sorting_preserves_input_order(splade):
    texts = [SHORT, LONG, "a", LONG + " " + SHORT, "two words", SHORT.lower()]
    together = dense_rows(splade.encode_documents(texts, batch_size=2))
    one_by_one = np.vstack([dense_rows(splade.encode_documents([t])) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_query_max_length_truncates_queries_only(splade):
    enc = variant(splade, max_length=64, query_max_length=8)
    text = "the cat sat on the mat while the dog slept in the warm kitchen"
    ids = enc.tokenizer(text, truncation=True, max_length=8)["input_ids"]
    truncated = enc.tokenizer.decode(ids, skip_special_tokens=True)  # first 6 word tokens
    query = dense_rows(enc.encode_queries([text]))
    np.testing.assert_allclose(query, dense_rows(enc.encode_documents([truncated])), atol=1e-6)
    assert np.abs(query - dense_rows(enc.encode_documents([text]))).max() > 0.1


def test_vocab_is_tokenizer_vocab_in_id_order(splade):
    vocab = splade.vocab
    assert len(vocab) == 30522
    assert vocab[0] == "[PAD]" and vocab[101] == "[CLS]" and vocab[102] == "[SEP]"
    assert splade.vocab_fingerprint() == fingerprint(vocab)


def test_config_round_trip(splade):
    enc = variant(splade, top_k=64, threshold=0.1, activation="log1p_log1p_relu",
                  query_max_length=32)
    config = json.loads(json.dumps(enc.config()))
    assert config["kind"] == "splade" and Path(config["name_or_path"]).is_absolute()
    rebuilt = encoder_from_config(config)
    assert rebuilt.config() == config
    a = enc.encode_documents([SHORT, LONG])
    b = rebuilt.encode_documents([SHORT, LONG])
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)


def test_bfloat16_projection_is_close(splade):
    full = dense_rows(splade.encode_documents([LONG]))
    bf16 = dense_rows(variant(splade, dtype="bfloat16").encode_documents([LONG]))
    assert np.abs(full - bf16).max() < 0.1


@pytest.mark.parametrize(
    "options",
    [{"activation": "gelu"}, {"pooling": "mean"}, {"top_k": 0}, {"threshold": -1.0},
     {"batch_size": 0}, {"max_length": 4096}, {"dtype": "float16"}],
)
def test_bad_options_are_rejected(splade, options):
    with pytest.raises(InputError):
        variant(splade, **options)


def test_bad_texts_are_rejected(splade):
    with pytest.raises(InputError, match="single string"):
        splade.encode_documents(SHORT)
    with pytest.raises(InputError, match="texts\\[1\\]"):
        splade.encode_queries(["ok", 3])
    with pytest.raises(InputError, match="batch_size"):
        splade.encode_documents([SHORT], batch_size=0)


@pytest.mark.parametrize("pooling, fast_path", [("max", True), ("max", False), ("sum", True)])
def test_full_logits_fallback_agrees(splade, pooling, fast_path):
    """Heads that do not factor into trunk + projection use full logits; same vectors."""
    tiled = variant(splade, pooling=pooling, fast_path=fast_path)
    fallback = variant(splade, pooling=pooling, fast_path=fast_path)
    fallback._weight = None  # what __init__ sets when the probe check fails
    texts = [SHORT, LONG]
    np.testing.assert_allclose(dense_rows(fallback.encode_documents(texts)),
                               dense_rows(tiled.encode_documents(texts)), rtol=1e-5, atol=1e-5)
