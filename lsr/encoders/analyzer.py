"""A Lucene ``EnglishAnalyzer``-like text analyzer for BM25.

The chain mirrors Lucene's ``EnglishAnalyzer`` (and Anserini's default analyzer for BM25):
word tokenization -> English possessive removal -> lowercasing -> stopword removal -> Porter
stemming. Tokenization is a regular expression approximating Lucene's ``StandardTokenizer``
(Unicode UAX#29 word boundaries) on the cases that matter for English text:

- runs of letters, digits and underscores form a token; ``covid-19`` gives ``covid``, ``19``;
- a period, apostrophe or colon between two letters joins them (``u.s.a``, ``don't``);
- a period, comma, semicolon or apostrophe between two digits joins them (``3.5``, ``1,000``),
  and letters and digits next to each other join (``3.5mg``, ``il6``);
- everything else (whitespace, other punctuation, symbols) separates tokens.

Known differences from Lucene: CJK ideographs and kana are not split into one token per
character, emoji are dropped, and tokens longer than 255 characters are not split. None of
these affect English retrieval benchmarks measurably (see ``tests/core/test_bm25.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lsr.errors import InputError, MissingDependencyError

#: Lucene's default English stop set (``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``), the 33 words
#: Anserini removes by default. Much shorter than NLTK/sklearn lists on purpose: BM25 idf already
#: down-weights frequent words, and Lucene-compatible scores need exactly this set.
LUCENE_ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their
    then there these they this to was will with""".split()
)

_LETTER = r"[^\W\d_]"
# UAX#29 MidLetter / MidNumLet (between letters) and MidNum / MidNumLet (between digits).
_MID_LETTER = r"[.'\u2019:\u00b7\u0387\u2027\ufe13\ufe55\uff0e\uff07\uff1a]"
_MID_NUM = r"[.,;'\u2019\u037e\u066c\ufe50\ufe54\uff0c\uff0e\uff1b]"
_TOKEN = re.compile(
    rf"\w+(?:(?:(?<={_LETTER}){_MID_LETTER}(?={_LETTER})|(?<=\d){_MID_NUM}(?=\d))\w+)*"
)
_POSSESSIVE = ("'s", "\u2019s", "\uff07s")

StopwordsOption = str | Sequence[str] | None


def resolve_stopwords(stopwords: StopwordsOption) -> frozenset[str]:
    """``"lucene"``/``"english"`` -> Lucene's 33 words; ``None``/``"none"`` -> no stopwords;
    a sequence of words -> those words, lowercased."""
    if stopwords is None:
        return frozenset()
    if isinstance(stopwords, str):
        name = stopwords.lower()
        if name in ("lucene", "english", "default"):
            return LUCENE_ENGLISH_STOPWORDS
        if name in ("none", ""):
            return frozenset()
        raise InputError(
            f"unknown stopword list {stopwords!r}; use 'lucene' (Lucene's 33 English words), "
            "'none', or pass a list of words"
        )
    words = list(stopwords)
    if not all(isinstance(w, str) for w in words):
        raise InputError("custom stopwords must be a list of strings")
    return frozenset(w.lower() for w in words)


class Analyzer:
    """Text -> list of index terms (lowercased, stopped, stemmed tokens).

    stopwords: ``"lucene"`` (default, Lucene's 33-word English set), ``None``/``"none"``, or a
        list of words (matched after lowercasing and possessive removal, before stemming, as in
        Lucene).
    stemmer: a PyStemmer algorithm name or ``None`` for no stemming. The default ``"porter"`` is
        the algorithm of Lucene's ``PorterStemFilter``; like Lucene's implementation, words of
        one or two letters are left unstemmed. Lucene's Porter code also carries two departures
        from the published algorithm (``-logi`` -> ``-log``, ``-bli`` -> ``-ble``) that
        Snowball's ``porter`` does not; they change a handful of rare words. ``"english"`` is
        Snowball's Porter2.
    cache_size: number of distinct raw tokens whose final term is remembered. Corpora repeat
        words heavily, so analysis costs mostly the tokenizing regular expression.
    """

    def __init__(
        self, *, stopwords: StopwordsOption = "lucene", stemmer: str | None = "porter",
        cache_size: int = 500_000,
    ) -> None:
        self.stopwords = resolve_stopwords(stopwords)
        self._stopwords_option = _stopwords_config(stopwords)
        if stemmer is False or (isinstance(stemmer, str) and stemmer.lower() in ("none", "")):
            stemmer = None
        if stemmer is not None and not isinstance(stemmer, str):
            raise InputError(
                f"stemmer must be a PyStemmer algorithm name or None, got {stemmer!r}"
            )
        if int(cache_size) < 0:
            raise InputError(f"cache_size must be >= 0, got {cache_size}")
        self.stemmer_name = stemmer
        self._cache_size = int(cache_size)
        # raw token -> final term; "" marks a token that is dropped (stopword).
        self._cache: dict[str, str] = {}
        self._stem_words = None
        if stemmer is not None:
            try:
                import Stemmer
            except ImportError as exc:  # PyStemmer is a core dependency; be clear if missing
                raise MissingDependencyError(
                    "PyStemmer is required for stemming; install it with: pip install PyStemmer"
                ) from exc
            if stemmer not in Stemmer.algorithms():
                raise InputError(
                    f"unknown stemmer {stemmer!r}; PyStemmer offers {Stemmer.algorithms()}"
                )
            # Our own cache sits in front of it, so PyStemmer's cache only costs memory.
            impl = Stemmer.Stemmer(stemmer, 0)
            self._stem_words = impl.stemWords
        self._keep_short = stemmer == "porter"

    def config(self) -> dict:
        """JSON-serialisable options that rebuild an identical analyzer."""
        return {"stopwords": self._stopwords_option, "stemmer": self.stemmer_name}

    def tokenize(self, text: str) -> list[str]:
        """Lowercased tokens with possessives removed, before stopwords and stemming."""
        return [_strip_possessive(t) for t in _TOKEN.findall(text.lower())]

    def analyze(self, text: str) -> list[str]:
        """Index terms of ``text``, in order, duplicates kept."""
        if not isinstance(text, str):
            raise InputError(f"expected a string to analyze, got {type(text).__name__}")
        tokens = _TOKEN.findall(text.lower())
        cache = self._cache
        try:
            terms = [cache[t] for t in tokens]
        except KeyError:
            self._learn(tokens)
            terms = [cache[t] for t in tokens]
        return [t for t in terms if t]

    __call__ = analyze

    def analyze_many(self, texts: Iterable[str]) -> list[list[str]]:
        """``analyze`` over many texts."""
        return [self.analyze(t) for t in texts]

    def _learn(self, tokens: list[str]) -> None:
        """Add the final term of every unseen raw token to the cache."""
        cache = self._cache
        new = [t for t in dict.fromkeys(tokens) if t not in cache]
        if len(cache) + len(new) > self._cache_size:
            # Crude but bounded; a corpus's frequent words come back at once.
            cache.clear()
            new = list(dict.fromkeys(tokens))
        words = [_strip_possessive(t) for t in new]
        kept = [w for w in words if w and w not in self.stopwords]
        if self._stem_words is not None and kept:
            stems = self._stem_words(kept)
            if self._keep_short:
                # Lucene's PorterStemmer leaves words of one or two letters alone ("us", "ms");
                # Snowball's porter would reduce them to "u", "m".
                stems = [w if len(w) <= 2 else s for w, s in zip(kept, stems)]
            stem_of = dict(zip(kept, stems))
        else:
            stem_of = {w: w for w in kept}
        for token, word in zip(new, words):
            cache[token] = stem_of.get(word, "")


def _strip_possessive(token: str) -> str:
    # Lucene's EnglishPossessiveFilter: drop a trailing 's (straight or curly apostrophe).
    return token[:-2] if token.endswith(_POSSESSIVE) else token


def _stopwords_config(stopwords: StopwordsOption) -> str | list[str] | None:
    if stopwords is None:
        return None
    if isinstance(stopwords, str):
        name = stopwords.lower()
        return None if name in ("none", "") else "lucene"
    return sorted({w.lower() for w in stopwords})
