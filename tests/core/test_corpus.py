"""Corpus and query reading: every accepted format and every error message."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lsr.corpus import Document, iter_corpus, read_corpus, read_queries, sample_dataset
from lsr.errors import InputError


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_document_full_text():
    assert Document("1", "body", "Title").full_text == "Title body"
    assert Document("1", "body").full_text == "body"
    assert Document("1", "", "Only title").full_text == "Only title"


def test_read_beir_jsonl_file_and_folder(tmp_path):
    write_jsonl(tmp_path / "corpus.jsonl", [
        {"_id": "d1", "title": "T1", "text": "one", "metadata": {}},
        {"_id": 2, "text": "two"},  # integer id, no title
        {"_id": "d3", "title": None, "text": ""},  # null title, empty text are allowed
    ])
    expected = [Document("d1", "one", "T1"), Document("2", "two"), Document("d3", "")]
    assert read_corpus(tmp_path / "corpus.jsonl") == expected
    assert read_corpus(tmp_path) == expected
    assert read_corpus(str(tmp_path)) == expected
    assert list(iter_corpus(tmp_path)) == expected


def test_pyserini_aliases_and_blank_lines_and_bom(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "contents": "alpha"}\n\n   \n{"id": "b", "contents": "beta"}\r\n'
    )
    assert read_corpus(path) == [Document("a", "alpha"), Document("b", "beta")]


def test_gzip_jsonl(tmp_path):
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps({"_id": "x", "text": "gz"}) + "\n")
    assert read_corpus(path) == [Document("x", "gz")]


def test_tsv_two_and_three_columns_with_header(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("id\ttext\ttitle\n1\tfirst text\tFirst\n2\tsecond text\n")
    assert read_corpus(path) == [Document("1", "first text", "First"),
                                 Document("2", "second text")]


def test_tsv_first_line_is_data_unless_it_looks_like_a_header(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("10\thello\n11\tworld\n")
    assert [d.id for d in read_corpus(path)] == ["10", "11"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"_id": "a", "text": "x"}', "{not json"], "line 2 of .*is not valid JSON"),
        (['["a", "b"]'], "line 1 of .*is a JSON list, expected an object"),
        (['{"text": "x"}'], r"line 1 of .*has no '_id' field"),
        (['{"_id": "a"}'], r"line 1 of .*\(id 'a'\) has no 'text' field"),
        (['{"_id": "a", "text": null}'], r"line 1 of .*'text' must be a string, got NoneType"),
        (['{"_id": "a", "text": "x", "title": 3}'], r"'title' must be a string, got int"),
        (['{"_id": 1.5, "text": "x"}'], r"line 1 of .*'_id' must be a string or an integer"),
        (['{"_id": "  ", "text": "x"}'], r"line 1 of .*has an empty '_id'"),
        (['{"_id": "a", "text": "x"}', "", '{"_id": "a", "text": "y"}'],
         r"duplicate document id 'a' on lines 1 and 3 of .*corpus.jsonl"),
        ([], r"the corpus .*corpus.jsonl contains no documents"),
        (["", "  "], r"contains no documents"),
    ],
)
def test_jsonl_errors(tmp_path, lines, message):
    path = write_jsonl(tmp_path / "corpus.jsonl", lines)
    with pytest.raises(InputError, match=message):
        read_corpus(path)


def test_iter_corpus_reports_duplicates_while_streaming(tmp_path):
    path = write_jsonl(tmp_path / "corpus.jsonl", [
        {"_id": "a", "text": "1"}, {"_id": "b", "text": "2"}, {"_id": "a", "text": "3"},
    ])
    stream = iter_corpus(path)
    assert next(stream).id == "a"
    assert next(stream).id == "b"
    with pytest.raises(InputError, match="duplicate document id 'a' on lines 1 and 3"):
        next(stream)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "a", "text": "x"}\n{"_id": "b", "text": "\xff"}\n')
    with pytest.raises(InputError, match="line 2 of .* is not valid UTF-8"):
        read_corpus(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1\tonly\n2\n", r"line 2 of .*has 1 tab-separated field\(s\); expected id<TAB>text"),
        ("1\ta\tb\tc\n", r"line 1 of .*has 4 tab-separated field\(s\)"),
        ("\ttext\n", r"line 1 of .*has an empty id"),
        ("1\ta\n1\tb\n", r"duplicate document id '1' on lines 1 and 2"),
        ("id\ttext\n", r"contains no documents"),
    ],
)
def test_tsv_errors(tmp_path, content, message):
    path = tmp_path / "corpus.tsv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_corpus(path)


def test_path_errors(tmp_path):
    with pytest.raises(InputError, match="corpus path .*missing.jsonl does not exist"):
        read_corpus(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="has no corpus.jsonl; pass a BEIR dataset folder"):
        read_corpus(tmp_path)
    (tmp_path / "corpus.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"unknown file type '\.csv'; expected \.jsonl"):
        read_corpus(tmp_path / "corpus.csv")


def test_read_queries_jsonl_tsv_and_folder(tmp_path):
    write_jsonl(tmp_path / "queries.jsonl", [
        {"_id": "q2", "text": "second", "metadata": {}}, {"_id": 1, "text": "first"},
    ])
    queries = read_queries(tmp_path)
    assert queries == {"q2": "second", "1": "first"}
    assert list(queries) == ["q2", "1"]  # file order
    tsv = tmp_path / "q.tsv"
    tsv.write_text("qid\tquery\nq1\twhat is bm25\nq2\tsparse\n")
    assert read_queries(tsv) == {"q1": "what is bm25", "q2": "sparse"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.tsv", "q1\ta\nq1\tb\n", r"duplicate query id 'q1' on lines 1 and 2"),
        ("q.tsv", "q1\ta\tb\n", r"line 1 of .*has 3 tab-separated field\(s\); expected "
                               r"id<TAB>text$"),
        ("q.jsonl", '{"_id": "q1"}\n', r"line 1 of .*\(id 'q1'\) has no 'text' field"),
        ("q.jsonl", "", r"the queries file .*q.jsonl contains no queries"),
    ],
)
def test_read_queries_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=message):
        read_queries(tmp_path / name)


def test_read_queries_missing(tmp_path):
    with pytest.raises(InputError, match="queries path .* does not exist"):
        read_queries(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="has no queries.jsonl"):
        read_queries(tmp_path)


def test_sample_dataset_ships_with_the_package():
    folder = sample_dataset()
    corpus = read_corpus(folder)
    queries = read_queries(folder)
    assert 60 <= len(corpus) <= 100
    assert 10 <= len(queries) <= 15
    assert (folder / "qrels" / "test.tsv").is_file()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 60_000
