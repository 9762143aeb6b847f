"""Checks of the arguments every public call takes, in one place.

An integer option out of range (``maxcount=-1``, ``seed=2**70``) or a text with a lone
surrogate (``name="a\\udc80"``, which cannot be UTF-8) would otherwise surface as the bare
``OverflowError`` or ``UnicodeEncodeError`` of the Rust binding. Here they become
``InvalidArgumentError`` (a ``ValueError``) naming the argument; a value of the wrong type is a
``TypeError``.
"""

from __future__ import annotations

import operator
from typing import Any, Optional

from ._core import InvalidArgumentError

#: The largest integer option: the core takes 64-bit unsigned counts, sizes and seeds.
MAX_U64 = 2**64 - 1


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int = 0,
    maximum: int = MAX_U64,
    optional: bool = False,
) -> Optional[int]:
    """``value`` as an int in ``[minimum, maximum]`` (None passes when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        kind = "an int or None" if optional else "an int"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}") from None
    if n < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {n}")
    if n > maximum:
        raise InvalidArgumentError(f"{name} must be <= {maximum}, got {n}")
    return n


def check_text(name: str, value: Any, *, optional: bool = False) -> Optional[str]:
    """``value`` as a str that is valid Unicode text (UTF-8 encodable)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidArgumentError(
            f"{name} {value!r} is not valid text: character {e.start} is a lone surrogate "
            f"({value[e.start]!r}), which UTF-8 cannot hold"
        ) from None
    return value


def check_progress(progress: Any) -> None:
    """``progress`` must be None (automatic), True or False."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None, True or False, got {progress!r}")


__all__ = ["MAX_U64", "check_int", "check_progress", "check_text"]
