"""TREC run files and relevance judgements (qrels), read and written.

Run file lines are ``qid Q0 docid rank score tag``. Within a query, hits are written by score,
highest first, ties broken by doc id (ascending) so that equal runs give byte-identical files.
Scores are written with ``repr`` so that reading a run back gives exactly the scores written.
Note that trec_eval (and pytrec_eval) ignore the rank column and re-sort by score, breaking ties
by doc id descending.

Qrels come as BEIR TSV (``query-id<TAB>corpus-id<TAB>score`` with a header line) or TREC
(``qid 0 docid relevance``, whitespace-separated); ``read_qrels`` tells them apart by the number
of columns.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from lsr.errors import InputError

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def sorted_hits(hits: Mapping[str, float]) -> list[tuple[str, float]]:
    """``(doc_id, score)`` pairs by score descending, then doc id ascending."""
    return sorted(((str(d), float(s)) for d, s in hits.items()), key=lambda h: (-h[1], h[0]))


def write_trec_run(
    path: str | Path, run: Mapping[str, Mapping[str, float]], *, tag: str = "lsr",
    max_hits: int | None = None,
) -> Path:
    """Write ``{qid: {doc_id: score}}`` as a TREC run file, atomically; return the path.

    Queries keep the mapping's order. ``max_hits`` keeps each query's best hits only.
    """
    if not tag or any(c.isspace() for c in tag):
        raise InputError(f"the run tag must be a non-empty string without spaces, got {tag!r}")
    if max_hits is not None and max_hits < 1:
        raise InputError(f"max_hits must be >= 1, got {max_hits}")

    def lines() -> Iterator[str]:
        for qid, hits in run.items():
            _check_id(qid, "query")
            ranked = sorted_hits(hits)
            for rank, (doc_id, score) in enumerate(ranked[:max_hits], start=1):
                _check_id(doc_id, "document")
                yield f"{qid} Q0 {doc_id} {rank} {score!r} {tag}\n"

    return _atomic_write(Path(path), lines())


def read_trec_run(path: str | Path) -> Run:
    """``{qid: {doc_id: score}}`` from a TREC run file (query and hit order kept)."""
    path = Path(path)
    run: Run = {}
    for lineno, fields in _split_lines(path):
        if len(fields) != 6:
            raise InputError(
                f"line {lineno} of {path} has {len(fields)} fields; a TREC run line is "
                "'qid Q0 docid rank score tag'"
            )
        qid, _, doc_id, _, score, _ = fields
        try:
            value = float(score)
        except ValueError:
            raise InputError(
                f"line {lineno} of {path}: score {score!r} is not a number"
            ) from None
        hits = run.setdefault(qid, {})
        if doc_id in hits:
            raise InputError(
                f"line {lineno} of {path}: document {doc_id!r} appears twice for query {qid!r}"
            )
        hits[doc_id] = value
    return run


def read_qrels(path: str | Path) -> Qrels:
    """``{qid: {doc_id: relevance}}`` from BEIR TSV (header optional) or TREC qrels.

    A 3-column line is ``qid docid relevance``; a 4-column line is ``qid iteration docid
    relevance``. A first line whose relevance field is not an integer is taken as a header.
    Judgements of relevance 0 are kept (they count as judged non-relevant).
    """
    path = Path(path)
    qrels: Qrels = {}
    for n, (lineno, fields) in enumerate(_split_lines(path)):
        if len(fields) == 3:
            qid, doc_id, rel = fields
        elif len(fields) == 4:
            qid, _, doc_id, rel = fields
        else:
            raise InputError(
                f"line {lineno} of {path} has {len(fields)} fields; expected BEIR "
                "'query-id<TAB>corpus-id<TAB>score' or TREC 'qid 0 docid relevance'"
            )
        try:
            relevance = int(rel)
        except ValueError:
            if n == 0:
                continue  # header, e.g. "query-id corpus-id score"
            raise InputError(
                f"line {lineno} of {path}: relevance {rel!r} is not an integer"
            ) from None
        judged = qrels.setdefault(qid, {})
        if doc_id in judged and judged[doc_id] != relevance:
            raise InputError(
                f"line {lineno} of {path}: document {doc_id!r} is judged twice for query "
                f"{qid!r} with different relevance ({judged[doc_id]} and {relevance})"
            )
        judged[doc_id] = relevance
    if not qrels:
        raise InputError(f"the qrels file {path} contains no judgements")
    return qrels


def write_qrels(
    path: str | Path, qrels: Mapping[str, Mapping[str, int]], *,
    format: Literal["tsv", "trec"] = "tsv",
) -> Path:
    """Write qrels as BEIR TSV (with header) or TREC (``qid 0 docid rel``), atomically."""
    if format not in ("tsv", "trec"):
        raise InputError(f"qrels format must be 'tsv' or 'trec', got {format!r}")

    def lines() -> Iterator[str]:
        if format == "tsv":
            yield "query-id\tcorpus-id\tscore\n"
        for qid, judged in qrels.items():
            _check_id(qid, "query")
            for doc_id, rel in judged.items():
                _check_id(doc_id, "document")
                if format == "tsv":
                    yield f"{qid}\t{doc_id}\t{int(rel)}\n"
                else:
                    yield f"{qid} 0 {doc_id} {int(rel)}\n"

    return _atomic_write(Path(path), lines())


# -- internals --------------------------------------------------------------------------------
def _check_id(value: str, what: str) -> None:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise InputError(
            f"{what} id {value!r} cannot be written to a TREC file: ids must be non-empty and "
            "contain no whitespace"
        )


def _split_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    with open(path, encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            fields = line.split()
            if fields:
                yield lineno, fields


def _atomic_write(path: Path, lines: Iterator[str]) -> Path:
    """Write to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a run file is an ordinary output
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
