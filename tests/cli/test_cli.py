"""The CLI in-process through ``main(argv)``: index, search, eval, and clear failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lsr.cli import main

DOCS = [
    ("d1", "Inverted indexes", "An inverted index maps every term to the documents holding it."),
    ("d2", "Sparse retrieval", "Learned sparse retrieval expands documents with related terms."),
    ("d3", "Pasta", "Cook the pasta in salted boiling water and drain it."),
    ("d4", "Telescopes", "A telescope gathers light from distant galaxies and stars."),
    ("d5", "Dense retrieval", "Dense retrieval embeds queries and documents as vectors."),
]
QUERIES = {"q1": "inverted index terms", "q2": "boiling pasta", "q3": "galaxies"}
QRELS = {"q1": "d1", "q2": "d3", "q3": "d4"}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w") as f:
        for doc_id, title, text in DOCS:
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w") as f:
        for qid, text in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()))
    return root


def test_index_then_search_prints_ranked_hits(dataset, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["index", str(dataset), "-o", str(out)]) == 0
    assert "indexed 5 documents" in capsys.readouterr().out
    assert main(["search", str(out), "the inverted index", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["1", "d1"]
    assert "Inverted indexes" in lines[0]
    assert len(lines) <= 3


def test_search_queries_file_writes_a_trec_run(dataset, tmp_path, capsys):
    out = tmp_path / "idx"
    main(["index", str(dataset / "corpus.jsonl"), "-o", str(out)])
    run = tmp_path / "run.trec"
    assert main(["search", str(out), "--queries", str(dataset / "queries.jsonl"),
                 "-o", str(run), "-k", "2"]) == 0
    rows = [line.split() for line in run.read_text().splitlines()]
    assert {r[0] for r in rows} == set(QUERIES)
    firsts = {r[0]: r[2] for r in rows if r[3] == "1"}
    assert firsts == QRELS
    assert all(r[1] == "Q0" for r in rows) and max(int(r[3]) for r in rows) <= 2


def test_eval_writes_run_and_metrics_and_reuses_the_index(dataset, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", str(dataset), "--encoder", "bm25", "-o", str(out)]) == 0
    table = capsys.readouterr().out
    for label in ("ndcg@10", "recall@100", "mrr@10", "index size", "avg doc non-zeros",
                  "encode docs/s", "search ms/query"):
        assert label in table
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["ndcg@10"] == pytest.approx(1.0)
    assert metrics["index_reused"] is False and (out / "run.trec").is_file()
    assert main(["eval", str(dataset), "--encoder", "bm25", "-o", str(out)]) == 0
    assert "reused index" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["metrics"]["ndcg@10"] == \
        pytest.approx(1.0)


def test_tsv_corpus(tmp_path, capsys):
    corpus = tmp_path / "c.tsv"
    corpus.write_text("a\tred apples and green pears\nb\tblue skies over the sea\n")
    assert main(["index", str(corpus), "-o", str(tmp_path / "i")]) == 0
    assert main(["search", str(tmp_path / "i"), "sea"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[1] == "b"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n', "line 2"),
        ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', "duplicate"),
        ("", "no documents"),
    ],
)
def test_malformed_corpus_fails_clearly(tmp_path, capsys, content, message):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(content)
    assert main(["index", str(corpus), "-o", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert message in err.lower() and "error" in err
    assert not (tmp_path / "idx").exists()


def test_bad_k_and_bad_paths_fail_clearly(dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", str(tmp_path), "x", "-k", "0"])
    assert exit_info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "missing"), "query"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["index", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "i")]) == 2
    assert "error" in capsys.readouterr().err


def test_existing_index_needs_overwrite(dataset, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["index", str(dataset), "-o", str(out)]) == 0
    assert main(["index", str(dataset), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["index", str(dataset), "-o", str(out), "--overwrite"]) == 0


def test_search_with_an_encoder_of_another_vocabulary_is_refused(dataset, tmp_path, capsys):
    out = tmp_path / "idx"
    main(["index", str(dataset), "-o", str(out)])
    # A BM25 encoder fitted on nothing has a different (empty) vocabulary.
    assert main(["search", str(out), "pasta", "--encoder", "bm25"]) == 2
    assert "error" in capsys.readouterr().err


def test_approx_index_and_search_modes(dataset, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["index", str(dataset), "-o", str(out), "--approx", "--block-size", "2"]) == 0
    capsys.readouterr()
    outputs = {}
    for extra in (["--mode", "approx", "--query-cut", "3", "--heap-factor", "1.0"],
                  ["--algorithm", "exhaustive"], ["--algorithm", "maxscore"],
                  ["--algorithm", "blockmax"]):
        assert main(["search", str(out), "pasta boiling water", "-k", "2", *extra]) == 0
        outputs[" ".join(extra)] = capsys.readouterr().out.split()[:2]
    assert all(first == ["1", "d3"] for first in outputs.values()), outputs
    plain = tmp_path / "plain"
    main(["index", str(dataset), "-o", str(plain)])
    assert main(["search", str(plain), "pasta", "--mode", "approx"]) == 2
    assert "--approx" in capsys.readouterr().err
    assert main(["eval", str(dataset), "-o", str(tmp_path / "ev"), "--approx",
                 "--mode", "approx"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["search_options"]["mode"] == "approx"
