"""The Lucene-like English analyzer: tokenization, possessives, stopwords, stemming, options."""

from __future__ import annotations

import pytest

from lsr.encoders.analyzer import LUCENE_ENGLISH_STOPWORDS, Analyzer
from lsr.errors import InputError


@pytest.fixture(scope="module")
def plain():
    return Analyzer(stopwords=None, stemmer=None)


def test_lucene_stop_set_is_the_33_words():
    assert len(LUCENE_ENGLISH_STOPWORDS) == 33
    assert {"the", "a", "with", "will", "such", "into"} <= LUCENE_ENGLISH_STOPWORDS
    assert "from" not in LUCENE_ENGLISH_STOPWORDS  # not in Lucene's set, unlike NLTK's


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("covid-19 and IL-6", ["covid", "19", "and", "il", "6"]),
        ("The U.S.A. grew 3.5% (1,000 units)", ["the", "u.s.a", "grew", "3.5", "1,000", "units"]),
        ("3.5mg of BNT162b2", ["3.5mg", "of", "bnt162b2"]),
        ("a,b a.5 1:2 x:y", ["a", "b", "a", "5", "1", "2", "x:y"]),
        ("don't stop", ["don't", "stop"]),
        ("snake_case words", ["snake_case", "words"]),
        ("café naïve Ärger", ["café", "naïve", "ärger"]),
        ("  ", []),
    ],
)
def test_tokenization(plain, text, tokens):
    assert plain.analyze(text) == tokens


def test_possessives_are_removed_before_stopwords(plain):
    assert plain.analyze("the children's toys, John’s book, JAMES'S car") == [
        "the", "children", "toys", "john", "book", "james", "car"]


def test_default_chain_stops_and_stems():
    analyzer = Analyzer()
    assert analyzer.analyze("The runners were running into the connections") == [
        "runner", "were", "run", "connect"]
    # Lucene's PorterStemmer leaves one- and two-letter words alone.
    assert analyzer.analyze("us ms is") == ["us", "ms"]
    assert analyzer("Studies") == ["studi"]


def test_custom_stopwords_and_no_stemming():
    analyzer = Analyzer(stopwords=["Foo", "bar"], stemmer=None)
    assert analyzer.analyze("foo BAR the running") == ["the", "running"]
    assert analyzer.config() == {"stopwords": ["bar", "foo"], "stemmer": None}
    assert Analyzer(stopwords="none").analyze("the cat") == ["the", "cat"]


def test_snowball_english_stemmer():
    assert Analyzer(stemmer="english").analyze("generously") == ["generous"]


def test_config_round_trip():
    for options in ({}, {"stopwords": None}, {"stopwords": ["x"], "stemmer": "english"},
                    {"stemmer": None}):
        config = Analyzer(**options).config()
        assert Analyzer(**config).config() == config


def test_small_cache_gives_the_same_terms():
    texts = [f"word{i % 37} running jumped the {i}" for i in range(300)]
    expected = Analyzer(cache_size=10**6).analyze_many(texts)
    assert Analyzer(cache_size=5).analyze_many(texts) == expected
    assert Analyzer(cache_size=0).analyze_many(texts) == expected


def test_bad_options():
    with pytest.raises(InputError, match="unknown stemmer 'klingon'"):
        Analyzer(stemmer="klingon")
    with pytest.raises(InputError, match="unknown stopword list 'french'"):
        Analyzer(stopwords="french")
    with pytest.raises(InputError, match="must be a PyStemmer algorithm name or None"):
        Analyzer(stemmer=3)
    with pytest.raises(InputError, match="expected a string to analyze, got int"):
        Analyzer().analyze(3)
