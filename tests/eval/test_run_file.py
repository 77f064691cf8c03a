"""TREC run and qrels files: formats, round trips, atomic writes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lsr.errors import InputError
from lsr.eval.run_file import read_qrels, read_trec_run, write_qrels, write_trec_run
from lsr.results import SearchResult


def test_run_file_format_and_order(tmp_path):
    run = {"q2": {"b": 1.0, "a": 1.0, "c": 2.5}, "q1": {"z": 0.1}}
    path = write_trec_run(tmp_path / "run.trec", run, tag="bm25")
    assert path.read_text().splitlines() == [
        "q2 Q0 c 1 2.5 bm25",
        "q2 Q0 a 2 1.0 bm25",  # ties by doc id
        "q2 Q0 b 3 1.0 bm25",
        "q1 Q0 z 1 0.1 bm25",
    ]


def test_run_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    run = {f"q{i}": {f"d{j}": float(rng.standard_normal()) for j in rng.choice(50, 20, False)}
           for i in range(5)}
    run["empty"] = {}
    path = write_trec_run(tmp_path / "run.trec", run)
    back = read_trec_run(path)
    assert back == {q: hits for q, hits in run.items() if hits}
    assert list(back["q0"].values()) == sorted(run["q0"].values(), reverse=True)


def test_search_result_to_run_file(tmp_path):
    result = SearchResult(
        indices=np.array([[1, 0, -1]]), scores=np.array([[3.5, 1.25, 0]], dtype=np.float32),
        doc_ids=["doc-a", "doc-b"],
    )
    path = write_trec_run(tmp_path / "r.trec", result.to_run(["q"]), max_hits=1)
    assert path.read_text() == "q Q0 doc-b 1 3.5 lsr\n"


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "run.trec"
    write_trec_run(target, {"q": {"d": 1.0}})
    with pytest.raises(InputError, match="ids must be non-empty and contain no whitespace"):
        write_trec_run(target, {"q": {"bad id": 1.0}})
    assert [p.name for p in target.parent.iterdir()] == ["run.trec"]
    assert read_trec_run(target) == {"q": {"d": 1.0}}  # the old file is untouched


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("q Q0 d 1 1.0\n", "line 1 of .* has 5 fields"),
        ("q Q0 d 1 high tag\n", "line 1 of .*: score 'high' is not a number"),
        ("q Q0 d 1 1.0 t\nq Q0 d 2 0.5 t\n", "line 2 of .*: document 'd' appears twice"),
    ],
)
def test_run_errors(tmp_path, content, message):
    path = tmp_path / "run.trec"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_trec_run(path)


def test_bad_tag_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="run tag must be a non-empty string"):
        write_trec_run(tmp_path / "r", {}, tag="two words")
    with pytest.raises(InputError, match="does not exist"):
        read_trec_run(tmp_path / "nothing.trec")


@pytest.mark.parametrize("fmt", ["tsv", "trec"])
def test_qrels_round_trip(tmp_path, fmt):
    qrels = {"1": {"10": 1, "11": 0}, "2": {"12": 2}}
    path = write_qrels(tmp_path / f"qrels.{fmt}", qrels, format=fmt)
    first = path.read_text().splitlines()[0]
    assert first == ("query-id\tcorpus-id\tscore" if fmt == "tsv" else "1 0 10 1")
    assert read_qrels(path) == qrels


def test_qrels_formats_and_errors(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("1\t10\t1\n1\t11\t2\n")  # BEIR layout without header
    assert read_qrels(path) == {"1": {"10": 1, "11": 2}}
    path.write_text("query-id\tcorpus-id\tscore\n1\t10\tyes\n")
    with pytest.raises(InputError, match="line 2 of .*: relevance 'yes' is not an integer"):
        read_qrels(path)
    path.write_text("1 10\n")
    with pytest.raises(InputError, match="line 1 of .* has 2 fields"):
        read_qrels(path)
    path.write_text("1\t10\t1\n1\t10\t0\n")
    with pytest.raises(InputError, match="judged twice for query '1'"):
        read_qrels(path)
    path.write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(InputError, match="contains no judgements"):
        read_qrels(path)
    with pytest.raises(InputError, match="qrels format must be"):
        write_qrels(path, {}, format="csv")
