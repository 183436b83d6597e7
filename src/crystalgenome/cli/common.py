"""Helpers shared by the CLI commands: error reporting and atomic output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

from crystalgenome.errors import CrystalGenomeError
from crystalgenome.utils.atomic import atomic_write_text

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    print(f"crystalgenome: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def reports_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn crystalgenome and I/O errors into one stderr line and a non-zero exit."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except (CrystalGenomeError, ValueError, OSError) as error:
            raise fail(str(error).splitlines()[0] if str(error) else type(error).__name__) from None

    return wrapper


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
