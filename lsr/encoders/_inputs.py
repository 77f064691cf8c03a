"""Argument checks shared by the neural encoders."""

from __future__ import annotations

from collections.abc import Sequence

from lsr.errors import InputError


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str; a bare string or non-str items raise ``InputError``."""
    if isinstance(texts, (str, bytes)):
        raise InputError(
            "expected a sequence of texts, got a single string; wrap it in a list: [text]"
        )
    try:
        texts = list(texts)
    except TypeError as exc:
        raise InputError(
            f"expected a sequence of texts, got {type(texts).__name__}"
        ) from exc
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is {type(text).__name__}, expected str")
    return texts


def check_positive(name: str, value: int | None, *, allow_none: bool = False) -> None:
    """``value`` must be an int >= 1 (or ``None`` when allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be an integer >= 1, got {value!r}")


def check_choice(name: str, value, choices: Sequence) -> None:
    if value not in choices:
        raise InputError(f"{name} must be one of {list(choices)}, got {value!r}")
