"""Helpers shared by the CLI commands: error reporting and atomic output."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

from crystalgenome.errors import CrystalGenomeError, one_line
from crystalgenome.utils.atomic import atomic_write_text

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    print(f"crystalgenome: error: {message}", file=sys.stderr)
    return typer.Exit(code)


class _StderrHandler(logging.Handler):
    """Warnings of crystalgenome's loggers as ``crystalgenome: warning: ...`` lines on the current stderr,
    and the one notice users must see among the info messages: that a run resumed earlier work."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            print(f"crystalgenome: warning: {one_line(record.getMessage())}", file=sys.stderr)
        elif str(record.msg).startswith("resuming "):
            print(f"crystalgenome: {one_line(record.getMessage())}", file=sys.stderr)


_HANDLER = _StderrHandler(logging.INFO)


def show_warnings() -> None:
    """Print the library's warnings (bad label values, damaged archives, ...) and resume notices on
    stderr (installed once)."""
    logger = logging.getLogger("crystalgenome")
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


def reports_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn crystalgenome and I/O errors into one stderr line and a non-zero exit; show warnings."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        show_warnings()
        try:
            return function(*args, **kwargs)
        except (CrystalGenomeError, ValueError, OSError) as error:
            raise fail(_error_line(error)) from None

    return wrapper


def _error_line(error: Exception) -> str:
    """One line for an error; an OSError names its file (``[Errno 28]`` alone does not say where)."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return one_line(f"{where}{error.strerror}")
    text = str(error).strip()
    return one_line(text.splitlines()[0]) if text else type(error).__name__


def emit(text: str, out: Path | None) -> None:
    """Write ``text`` atomically to ``out``, or print it to stdout."""
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        atomic_write_text(out, text)


def parse_debye_waller(text: str | None) -> tuple[tuple[str, float], ...]:
    """``"Na=0.5,Cl=0.6"`` → (("Cl", 0.6), ("Na", 0.5)): isotropic B factors, Å²."""
    if not text:
        return ()
    pairs = []
    for item in text.split(","):
        symbol, _, value = item.partition("=")
        if not value:
            raise ValueError(f"--debye-waller expects ELEMENT=B pairs such as 'Na=0.5,Cl=0.6', got {item!r}")
        pairs.append((symbol.strip(), float(value)))
    return tuple(sorted(pairs))
