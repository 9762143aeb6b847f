"""Errors that only the Python layer raises, under atdata 0.7's names.

The errors the Rust core raises (and their bases ``ShardError`` and ``SchemaError``) are made in
``crates/atdata-py/src/exceptions.rs``; the classes here are raised by Python code alone (key
lookups, lenses, per-shard processing), so they live beside it. Each is also the builtin a 0.7
user's ``except`` clause names for that situation.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ._core import AtdataError, NotFoundError


class SampleKeyError(AtdataError, KeyError):
    """No sample with this key in the dataset (also ``KeyError``); ``key`` names it."""

    def __init__(self, key: str, where: Optional[str] = None) -> None:
        self.key = key
        self.where = where
        place = f" in {where}" if where else " in the dataset"
        super().__init__(f"no sample with key {key!r}{place}")

    def __reduce__(self) -> Any:
        # Rebuilt from what it was made of (pickling passes `args`, the message, by default):
        # errors cross process boundaries in DataLoader workers and multiprocessing pools.
        return (type(self), (self.key, self.where), self.__dict__)

    # KeyError quotes its message in str(); show it plainly like our other errors.
    __str__ = Exception.__str__


class SplitNotFoundError(NotFoundError, ValueError):
    """No split of that name: also ``ValueError``, as atdata 0.7 and HF ``datasets`` raise it,
    and ``KeyError`` through ``NotFoundError``. The message lists the splits that exist."""


class LensNotFoundError(AtdataError, ValueError):
    """No registered lens turns ``source`` into ``view`` (also ``ValueError``).

    ``available`` lists the types that ``source`` can be viewed as. 0.7's attribute names
    ``source_type``, ``view_type`` and ``available_targets`` hold the same.
    """

    def __init__(self, source: Any, view: Any, available: Sequence[Any] = ()) -> None:
        self.source = self.source_type = source
        self.view = self.view_type = view
        self.available = list(available)
        self.available_targets = self.available
        name = lambda t: getattr(t, "__name__", repr(t))  # noqa: E731
        msg = f"no lens from {name(source)} to {name(view)}"
        if self.available:
            msg += "; registered views of " + name(source) + ": "
            msg += ", ".join(name(t) for t in self.available)
        else:
            msg += f"; no lens is registered for {name(source)} (declare one with @atdata.lens)"
        super().__init__(msg)

    def __reduce__(self) -> Any:
        return (LensNotFoundError, (self.source, self.view, self.available), self.__dict__)


class PartialFailureError(AtdataError):
    """Some shards failed in ``Dataset.process_shards`` while others succeeded.

    ``succeeded_shards`` and ``failed_shards`` list shard URLs, ``errors`` maps each failed shard
    to its exception and ``results`` each succeeded shard to its result, so that only the
    failed ones need to be retried.
    """

    def __init__(
        self,
        succeeded_shards: list,
        failed_shards: list,
        errors: dict,
        results: dict,
    ) -> None:
        self.succeeded_shards = list(succeeded_shards)
        self.failed_shards = list(failed_shards)
        self.errors = dict(errors)
        self.results = dict(results)
        total = len(self.succeeded_shards) + len(self.failed_shards)
        lines = [f"{len(self.failed_shards)} of {total} shards failed:"]
        for shard in self.failed_shards[:5]:
            lines.append(f"  {shard}: {self.errors.get(shard)}")
        if len(self.failed_shards) > 5:
            lines.append(f"  and {len(self.failed_shards) - 5} more")
        lines.append("(.failed_shards and .errors name them; .results holds the rest)")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> Any:
        made_of = (self.succeeded_shards, self.failed_shards, self.errors, self.results)
        return (type(self), made_of, self.__dict__)


for _cls in (SampleKeyError, SplitNotFoundError, LensNotFoundError, PartialFailureError):
    _cls.__module__ = "atdata"  # shown in tracebacks as what callers catch

__all__ = ["LensNotFoundError", "PartialFailureError", "SampleKeyError", "SplitNotFoundError"]
