"""Reading corpora and queries: BEIR JSONL, BEIR dataset folders and TSV files.

Accepted inputs (a ``.gz`` suffix on a file is decompressed transparently):

- a BEIR ``corpus.jsonl`` / ``queries.jsonl``: one JSON object per line with ``_id`` and
  ``text`` (and ``title`` for documents). ``id`` and ``contents`` (Pyserini's JSON collections)
  are accepted as aliases of ``_id`` and ``text``. Other fields are ignored.
- a BEIR dataset folder containing ``corpus.jsonl`` / ``queries.jsonl``.
- a ``.tsv`` file: ``id<TAB>text`` with an optional third column ``title`` for documents. A
  first line that looks like a header (first field ``id``, ``_id``, ``docid``, ``doc_id``,
  ``qid``, ``query_id`` or ``query-id``, second field ``text``, ``query`` or ``contents``, any
  case) is skipped; any other first line is data.

Ids are strings; integer ids in JSON are converted. Blank lines are skipped. Errors are
``lsr.errors.InputError`` naming the file and line.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lsr.errors import InputError

_ID_KEYS = ("_id", "id")
_TEXT_KEYS = ("text", "contents")
_MISSING = object()
_HEADER_IDS = {"id", "_id", "docid", "doc_id", "doc-id", "qid", "query_id", "query-id"}
_HEADER_TEXTS = {"text", "query", "contents", "doc", "document"}


@dataclass(frozen=True)
class Document:
    """One corpus document; ``full_text`` is what encoders see (title first, as BEIR does)."""

    id: str
    text: str
    title: str = ""

    @property
    def full_text(self) -> str:
        return f"{self.title} {self.text}".strip()


def iter_corpus(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a corpus file or BEIR folder, validating as it goes.

    Raises ``InputError`` on a malformed line, a missing field, a duplicate id (naming both
    lines) or a corpus without documents (raised once the stream ends).
    """
    file = _resolve(path, "corpus.jsonl", "corpus")
    seen: dict[str, int] = {}
    for lineno, record in _records(file, allow_title=True):
        doc_id, text, title = record
        first = seen.setdefault(doc_id, lineno)
        if first != lineno:
            raise InputError(
                f"duplicate document id {doc_id!r} on lines {first} and {lineno} of {file}; "
                "document ids must be unique"
            )
        yield Document(doc_id, text, title)
    if not seen:
        raise InputError(f"the corpus {file} contains no documents")


def read_corpus(path: str | Path) -> list[Document]:
    """All documents of a corpus file or BEIR folder, in file order (see ``iter_corpus``)."""
    return list(iter_corpus(path))


def read_queries(path: str | Path) -> dict[str, str]:
    """``{query_id: text}`` in file order from a BEIR ``queries.jsonl``, folder or TSV file."""
    file = _resolve(path, "queries.jsonl", "queries")
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}
    for lineno, (qid, text, _) in _records(file, allow_title=False):
        if qid in queries:
            raise InputError(
                f"duplicate query id {qid!r} on lines {lines[qid]} and {lineno} of {file}; "
                "query ids must be unique"
            )
        queries[qid] = text
        lines[qid] = lineno
    if not queries:
        raise InputError(f"the queries file {file} contains no queries")
    return queries


def sample_dataset() -> Path:
    """The folder of the small BEIR-layout dataset shipped with lsr (``lsr/data/sample``)."""
    return Path(__file__).resolve().parent / "data" / "sample"


# -- internals --------------------------------------------------------------------------------
def _resolve(path: str | Path, beir_name: str, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} path {path} does not exist")
    if path.is_dir():
        for name in (beir_name, beir_name + ".gz"):
            if (path / name).is_file():
                return path / name
        raise InputError(
            f"the folder {path} has no {beir_name}; pass a BEIR dataset folder, a {beir_name} "
            "file or a .tsv file"
        )
    if _kind(path) is None:
        raise InputError(
            f"cannot read {what} file {path}: unknown file type {''.join(path.suffixes)!r}; "
            "expected .jsonl (BEIR) or .tsv (id<TAB>text), optionally .gz-compressed"
        )
    return path


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    return None


def _lines(file: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of non-blank lines, 1-based, decoded as UTF-8 (BOM tolerated)."""
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    with opener(file, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"line {lineno} of {file} is not valid UTF-8: {exc}") from exc
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def _records(file: Path, *, allow_title: bool) -> Iterator[tuple[int, tuple[str, str, str]]]:
    """``(line_number, (id, text, title))`` per record; title is ``""`` for queries."""
    if _kind(file) == "jsonl":
        for lineno, line in _lines(file):
            yield lineno, _json_record(file, lineno, line, allow_title)
        return
    columns = "id<TAB>text<TAB>title" if allow_title else "id<TAB>text"
    for lineno, line in _lines(file):
        fields = line.split("\t")
        if lineno == 1 and _is_header(fields):
            continue
        if len(fields) < 2 or len(fields) > (3 if allow_title else 2):
            raise InputError(
                f"line {lineno} of {file} has {len(fields)} tab-separated field(s); expected "
                f"{columns}"
            )
        record_id = fields[0].strip()
        if not record_id:
            raise InputError(f"line {lineno} of {file} has an empty id")
        title = fields[2].strip() if len(fields) == 3 else ""
        yield lineno, (record_id, fields[1], title)


def _is_header(fields: list[str]) -> bool:
    return (
        len(fields) >= 2
        and fields[0].strip().lower() in _HEADER_IDS
        and fields[1].strip().lower() in _HEADER_TEXTS
    )


def _json_record(file: Path, lineno: int, line: str, allow_title: bool) -> tuple[str, str, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"line {lineno} of {file} is not valid JSON: {exc.msg}") from exc
    if not isinstance(obj, dict):
        raise InputError(
            f"line {lineno} of {file} is a JSON {type(obj).__name__}, expected an object with "
            "'_id' and 'text'"
        )
    record_id = _field(obj, _ID_KEYS)
    if record_id is _MISSING:
        raise InputError(f"line {lineno} of {file} has no '_id' field (or 'id')")
    if isinstance(record_id, bool) or not isinstance(record_id, (str, int)):
        raise InputError(
            f"line {lineno} of {file}: '_id' must be a string or an integer, got "
            f"{record_id!r}"
        )
    record_id = str(record_id).strip()
    if not record_id:
        raise InputError(f"line {lineno} of {file} has an empty '_id'")
    text = _field(obj, _TEXT_KEYS)
    if text is _MISSING:
        raise InputError(f"line {lineno} of {file} (id {record_id!r}) has no 'text' field")
    if not isinstance(text, str):
        raise InputError(
            f"line {lineno} of {file} (id {record_id!r}): 'text' must be a string, got "
            f"{type(text).__name__}"
        )
    title = obj.get("title") if allow_title else None
    if title is None:
        title = ""
    elif not isinstance(title, str):
        raise InputError(
            f"line {lineno} of {file} (id {record_id!r}): 'title' must be a string, got "
            f"{type(title).__name__}"
        )
    return record_id, text, title


def _field(obj: dict, keys: tuple[str, ...]):
    for key in keys:
        if key in obj:
            return obj[key]
    return _MISSING
