"""BM25Encoder: weights against the formula, query side, persistence, and SciFact quality."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lsr.encoders import encoder_from_config, load_encoder, load_query_encoder
from lsr.encoders.analyzer import Analyzer
from lsr.encoders.bm25 import BM25Encoder, lucene_length
from lsr.errors import IndexFormatError, InputError

CORPUS = [
    "Sparse retrieval with an inverted index is fast.",
    "Dense retrieval encodes queries and documents as vectors; dense vectors need ANN search.",
    "BM25 ranks documents by term frequency, inverse document frequency and length.",
    "The quick brown fox jumps over the lazy dog. The dog sleeps.",
    "",
    "Index index index: repeated terms saturate in BM25 scoring of the index.",
]


def oracle_weights(corpus, k1, b, analyzer=None):
    """BM25 document weights straight from the formula, as ``[{term: weight}]``."""
    analyzer = analyzer or Analyzer()
    terms = [analyzer.analyze(t) for t in corpus]
    nonempty = [t for t in terms if t]
    n = len(nonempty)
    avgdl = sum(map(len, nonempty)) / n
    df = Counter(term for doc in nonempty for term in set(doc))
    out = []
    for doc in terms:
        weights = {}
        for term, tf in Counter(doc).items():
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            weights[term] = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(weights)
    return out


@pytest.mark.parametrize(("k1", "b"), [(0.9, 0.4), (1.2, 0.75), (0.0, 0.0), (2.0, 1.0)])
def test_document_weights_match_the_formula(k1, b):
    enc = BM25Encoder(k1=k1, b=b).fit(CORPUS)
    assert enc.vocab == sorted(enc.vocab)
    batch = enc.encode_documents(CORPUS)
    assert len(batch) == len(CORPUS) and batch.dim == len(enc.vocab)
    assert batch.indices.dtype == np.int32 and batch.values.dtype == np.float32
    expected = oracle_weights(CORPUS, k1, b)
    got = batch.to_dicts(enc.vocab)
    for row_got, row_expected in zip(got, expected):
        assert row_got.keys() == row_expected.keys()
        for term, weight in row_expected.items():
            assert row_got[term] == pytest.approx(weight, rel=1e-6)
    for i in range(len(batch)):  # CSR rows sorted and unique
        ids, _ = batch.row(i)
        assert np.all(np.diff(ids) > 0)


def test_statistics_follow_lucene():
    enc = BM25Encoder().fit(CORPUS)
    assert enc.num_docs == 5  # the empty document does not count, as in Lucene's docCount
    analyzer = Analyzer()
    lengths = [len(analyzer.analyze(t)) for t in CORPUS if analyzer.analyze(t)]
    assert enc.avgdl == pytest.approx(sum(lengths) / len(lengths))
    term = enc.vocab.index("index")
    assert enc.df[term] == 2
    assert enc.idf[term] == pytest.approx(math.log(1 + (5 - 2 + 0.5) / (2 + 0.5)))


def test_dot_product_is_lucene_bm25():
    k1, b = 1.2, 0.75
    enc = BM25Encoder(k1=k1, b=b).fit(CORPUS)
    query = "index index BM25 of unknownword"
    scores = (enc.encode_queries([query]).to_scipy() @ enc.encode_documents(CORPUS).to_scipy().T)
    scores = scores.toarray()[0]
    weights = oracle_weights(CORPUS, k1, b)
    counts = Counter(Analyzer().analyze(query))
    expected = [sum(c * w.get(t, 0.0) for t, c in counts.items()) for w in weights]
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert np.argmax(scores) == 5


def test_query_encoding_counts_terms_and_drops_unknown():
    enc = BM25Encoder().fit(CORPUS)
    batch = enc.encode_queries(["index the Index indexes", "zzz unknown", "", "dog"])
    assert batch.to_dicts(enc.vocab) == [{"index": 3.0}, {}, {}, {"dog": 1.0}]


def test_unseen_document_terms_are_dropped_but_count_in_length():
    enc = BM25Encoder(k1=1.2, b=0.75).fit(CORPUS)
    batch = enc.encode_documents(["inverted index", "inverted index zzz yyy xxx"])
    (_, short_w), (_, padded_w) = batch.row(0), batch.row(1)
    assert len(short_w) == len(padded_w) == 2
    assert np.all(padded_w < short_w)  # longer document, lower weights


def test_vocab_and_weights_do_not_depend_on_document_order():
    forward = BM25Encoder().fit(CORPUS)
    backward = BM25Encoder().fit(list(reversed(CORPUS)))
    assert forward.vocab == backward.vocab
    np.testing.assert_array_equal(forward.encode_documents(CORPUS).values,
                                  backward.encode_documents(CORPUS).values)


def test_batches_and_generators_give_the_same_result():
    enc = BM25Encoder().fit(iter(CORPUS))
    whole = enc.encode_documents(CORPUS)
    pieces = enc.encode_documents(CORPUS, batch_size=2)
    for name in ("indptr", "indices", "values"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(pieces, name))
    empty = enc.encode_documents([])
    assert len(empty) == 0 and empty.dim == enc.dim


def test_needs_fit_and_errors():
    enc = BM25Encoder()
    assert enc.needs_fit and enc.kind == "bm25" and not enc.query_needs_model
    with pytest.raises(InputError, match=r"call fit\(corpus_texts\) first"):
        enc.encode_documents(["x"])
    with pytest.raises(InputError, match=r"call fit\(corpus_texts\) first"):
        enc.encode_queries(["x"])
    assert enc.fit(CORPUS) is enc and not enc.needs_fit
    with pytest.raises(InputError, match="found no terms"):
        BM25Encoder().fit(["", "the of and"])
    with pytest.raises(InputError, match="single string"):
        enc.encode_queries("a query")
    with pytest.raises(InputError, match="k1 must be >= 0"):
        BM25Encoder(k1=-1)
    with pytest.raises(InputError, match=r"b must lie in \[0, 1\]"):
        BM25Encoder(b=1.5)
    with pytest.raises(InputError, match="k1 must be a number"):
        BM25Encoder(k1="high")


def test_config_and_load_encoder():
    enc = load_encoder("bm25", k1=1.2, b=0.75, stopwords=None, stemmer="english")
    assert isinstance(enc, BM25Encoder)
    config = enc.config()
    assert config == {"kind": "bm25", "k1": 1.2, "b": 0.75, "lucene_norms": False,
                      "stopwords": None, "stemmer": "english"}
    assert encoder_from_config(config).config() == config
    assert BM25Encoder().config()["stopwords"] == "lucene"


def test_save_and_load_query_side(tmp_path):
    enc = BM25Encoder(k1=1.1, b=0.6, stopwords=["dog"], lucene_norms=True).fit(CORPUS)
    enc.save_query_side(tmp_path / "encoder")
    for loaded in (BM25Encoder.load_query_side(tmp_path / "encoder", enc.config()),
                   load_query_encoder(tmp_path / "encoder", enc.config())):
        assert loaded.config() == enc.config()
        assert loaded.vocab_fingerprint() == enc.vocab_fingerprint()
        assert not loaded.needs_fit
        queries = ["fast inverted index", "dog fox fox"]
        for a, b in [(loaded.encode_queries(queries), enc.encode_queries(queries)),
                     (loaded.encode_documents(CORPUS), enc.encode_documents(CORPUS))]:
            np.testing.assert_array_equal(a.indptr, b.indptr)
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.values, b.values)


def test_load_query_side_errors(tmp_path):
    enc = BM25Encoder().fit(CORPUS)
    with pytest.raises(IndexFormatError, match="are missing"):
        BM25Encoder.load_query_side(tmp_path, enc.config())
    enc.save_query_side(tmp_path)
    with pytest.raises(IndexFormatError, match="disagrees"):
        BM25Encoder.load_query_side(tmp_path, {**enc.config(), "k1": 2.0})
    (tmp_path / "bm25.json").write_text('{"format_version": 99}')
    with pytest.raises(IndexFormatError, match="format_version 99"):
        BM25Encoder.load_query_side(tmp_path, enc.config())


def test_lucene_length_rounding():
    # Values from Lucene's SmallFloat.byte4ToInt(intToByte4(n)).
    lengths = np.array([0, 5, 23, 24, 31, 39, 40, 100, 200, 210, 250, 1000])
    expected = np.array([0, 5, 23, 24, 31, 39, 40, 96, 200, 200, 248, 984])
    np.testing.assert_array_equal(lucene_length(lengths), expected)


def brute_force_scifact(scifact_dir, **options):
    from lsr.corpus import read_corpus, read_queries
    from lsr.eval.metrics import evaluate
    from lsr.eval.run_file import read_qrels

    corpus = read_corpus(scifact_dir)
    queries = read_queries(scifact_dir)
    qrels = read_qrels(scifact_dir / "qrels" / "test.tsv")
    texts = [d.full_text for d in corpus]
    enc = BM25Encoder(**options).fit(texts)
    docs = enc.encode_documents(texts).to_scipy()
    qids = list(qrels)
    scores = (enc.encode_queries([queries[q] for q in qids]).to_scipy() @ docs.T).toarray()
    top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
    run = {q: {corpus[j].id: float(scores[i, j]) for j in top[i] if scores[i, j] > 0}
           for i, q in enumerate(qids)}
    return evaluate(qrels, run, ("ndcg@10", "recall@100"))["mean"]


def test_scifact_quality(scifact_dir):
    # Anserini's published BM25 flat figures are nDCG@10 0.6789, R@100 0.9253 (k1=0.9, b=0.4).
    exact = brute_force_scifact(scifact_dir)
    assert exact["ndcg@10"] >= 0.672
    assert exact["recall@100"] >= 0.92
    lucene = brute_force_scifact(scifact_dir, lucene_norms=True)
    assert lucene["ndcg@10"] == pytest.approx(0.6789, abs=5e-4)
    assert lucene["recall@100"] == pytest.approx(0.9253, abs=5e-4)
