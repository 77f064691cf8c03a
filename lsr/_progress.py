"""Progress bars for long work: tqdm on stderr, off when stderr is not a TTY or when asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled(show: bool | None) -> bool:
    """``show`` wins when given; otherwise on for a TTY unless ``LSR_NO_PROGRESS`` is set."""
    if show is not None:
        return show
    if os.environ.get("LSR_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
    show: bool | None = None,
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when enabled; a plain iterator otherwise."""
    if not progress_enabled(show):
        return iter(iterable)
    from tqdm.auto import tqdm

    return iter(tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False))
