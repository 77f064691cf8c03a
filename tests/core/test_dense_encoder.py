"""TransformerDenseEncoder on all-MiniLM-L6-v2: sentence-transformers settings, pooling, order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lsr.encoders import encoder_from_config
from lsr.errors import InputError

TEXTS = [
    "Learned sparse retrieval with an inverted index.",
    "a",
    "Dense retrievers embed queries and documents into one vector space so that nearest "
    "neighbours by inner product are relevant documents for the query.",
    "  surrounding whitespace  ",
    "Two words",
]


@pytest.fixture(scope="module")
def dense(minilm_dir: Path):
    from lsr.encoders.dense import TransformerDenseEncoder

    return TransformerDenseEncoder.from_pretrained(str(minilm_dir))


def variant(dense, **options):
    from lsr.encoders.dense import TransformerDenseEncoder

    options.setdefault("max_length", 128)
    return TransformerDenseEncoder(dense.model, dense.tokenizer, name_or_path=dense.name_or_path,
                                   **options)


def hidden_states(dense, text: str, max_length: int = 128):
    """Unpadded last hidden states of one text: float32 (tokens, dim)."""
    import torch

    inputs = dense.tokenizer([text.strip()], return_tensors="pt", truncation=True,
                             max_length=max_length)
    with torch.no_grad():
        return dense.model(**inputs).last_hidden_state[0].numpy()


def test_reads_sentence_transformers_settings(dense):
    config = dense.config()
    assert (config["pooling"], config["normalize"], config["max_length"]) == ("mean", True, 256)
    assert dense.dim == 384 and Path(config["name_or_path"]).is_absolute()


def test_unit_norm_float32(dense):
    out = dense.encode_documents(TEXTS[:3])
    assert out.shape == (3, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert dense.encode_queries([]).shape == (0, 384)


def test_mean_pooling_equals_hand_computed_mean(dense):
    enc = variant(dense, normalize=False)
    got = enc.encode_documents(TEXTS, batch_size=len(TEXTS))  # padded batch: mask matters
    for row, text in zip(got, TEXTS):
        np.testing.assert_allclose(row, hidden_states(dense, text).mean(axis=0), atol=1e-5)


def test_cls_pooling(dense):
    got = variant(dense, pooling="cls", normalize=False).encode_documents(TEXTS[:3])
    for row, text in zip(got, TEXTS[:3]):
        np.testing.assert_allclose(row, hidden_states(dense, text)[0], atol=1e-5)


def test_length_sorting_preserves_input_order(dense):
    enc = variant(dense)
    together = enc.encode_documents(TEXTS, batch_size=2)
    one_by_one = np.vstack([enc.encode_documents([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_prefixes(dense):
    enc = variant(dense, query_prefix="query: ", document_prefix="passage: ")
    plain = variant(dense)
    np.testing.assert_allclose(enc.encode_queries(["sparse"]),
                               plain.encode_documents(["query: sparse"]), atol=1e-6)
    np.testing.assert_allclose(enc.encode_documents(["sparse"]),
                               plain.encode_documents(["passage: sparse"]), atol=1e-6)


def test_config_round_trip(dense):
    enc = variant(dense, pooling="cls", normalize=False, max_length=64, query_prefix="q: ")
    config = json.loads(json.dumps(enc.config()))
    rebuilt = encoder_from_config(config)
    assert rebuilt.config() == config
    np.testing.assert_allclose(rebuilt.encode_queries(TEXTS[:2]), enc.encode_queries(TEXTS[:2]),
                               atol=1e-6)


def test_bad_arguments(dense):
    with pytest.raises(InputError):
        variant(dense, pooling="max")
    with pytest.raises(InputError):
        dense.encode_documents("not a list")
    with pytest.raises(InputError):
        dense.encode_documents(TEXTS, batch_size=-1)


def test_matches_sentence_transformers_when_installed(dense, minilm_dir):
    st = pytest.importorskip("sentence_transformers", reason="optional cross-check only")
    model = st.SentenceTransformer(str(minilm_dir), device="cpu")
    np.testing.assert_allclose(dense.encode_documents(TEXTS), model.encode(TEXTS), atol=1e-5)
