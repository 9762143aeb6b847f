"""The logger atdata reports to, replaceable as in atdata 0.7 (``configure_logging``).

By default this is the standard library's ``logging.getLogger("atdata")``; any object with
``debug``/``info``/``warning``/``error`` methods (a structlog logger, say) can take its place.
The Python layer reports whole operations (a write, a load) through ``log_operation``; the
Rust core itself does not log, so nothing is reported per sample.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator, Protocol, runtime_checkable


@runtime_checkable
class LoggerProtocol(Protocol):
    """What a logger given to ``configure_logging`` must offer."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


_logger: Any = logging.getLogger("atdata")
# A library's logger prints nothing until the application configures logging (the standard
# library's advice): without this, Python's last-resort handler would print every failed
# operation on stderr beside the exception the caller already gets.
_logger.addHandler(logging.NullHandler())


def configure_logging(logger: Any) -> None:
    """Send atdata's log messages to ``logger`` instead of ``logging.getLogger("atdata")``."""
    missing = [m for m in ("debug", "info", "warning", "error") if not callable(getattr(logger, m, None))]
    if missing:
        raise TypeError(
            f"configure_logging: {type(logger).__name__} has no {', '.join(missing)} method(s); "
            "a logger needs debug, info, warning and error"
        )
    global _logger
    _logger = logger


def get_logger() -> Any:
    """The logger atdata reports to (the last one given to ``configure_logging``)."""
    return _logger


@contextlib.contextmanager
def log_operation(op_name: str, **context: Any) -> Iterator[None]:
    """Report the start of ``op_name``, then its end with the time it took, or its failure.

    ``context`` (shard counts, names...) is appended to each message as ``key=value``.
    """
    log = get_logger()
    details = ", ".join(f"{k}={v}" for k, v in context.items())
    suffix = f" ({details})" if details else ""
    log.info("%s started%s", op_name, suffix)
    start = time.monotonic()
    try:
        yield
    except BaseException:
        log.error("%s failed after %.2fs%s", op_name, time.monotonic() - start, suffix)
        raise
    log.info("%s finished in %.2fs%s", op_name, time.monotonic() - start, suffix)


__all__ = ["LoggerProtocol", "configure_logging", "get_logger", "log_operation"]
