"""The one loader for the vocabulary and rules in `bot/data/*.toml`.

Word lists, markers, cues, patterns and licence rules live in data files a consultant can read and change
without touching Python; modules ask for a table by name. Files are read once per process (they are part of
the installed package, like code).
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

DATA = Path(__file__).resolve().parent / "data"
F = TypeVar("F", bound=Callable[..., Any])
_derived: list[Any] = []


def derived(fn: F) -> F:
    """Cache something computed from the data files (a compiled pattern, a tokenizer) until `reload()`."""
    cached = functools.cache(fn)
    _derived.append(cached)
    return cached  # type: ignore[return-value]


def reload() -> None:
    """Forget everything read from the data files (after editing them in a running process, or in tests)."""
    for fn in _derived:
        fn.cache_clear()


@derived
def table(name: str) -> dict[str, Any]:
    """The parsed `bot/data/<name>.toml`. TOML itself rejects duplicate keys."""
    with (DATA / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def fingerprint(*names: str) -> str:
    """A hash of the named files' bytes: changes whenever one of them does."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((DATA / f"{name}.toml").read_bytes())
    return digest.hexdigest()[:16]


def any_of(patterns: list[str], flags: int = 0) -> re.Pattern[str]:
    """One regular expression matching any of the patterns."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)
