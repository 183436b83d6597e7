"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``target`` atomically.

    A crash or exception leaves ``target`` untouched and removes the temporary file. An OSError
    that names no file (a full disk: ``[Errno 28]``) is raised again naming ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    temporary.chmod(0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield temporary
        temporary.replace(target)
    except OSError as error:
        if error.filename is None and error.errno is not None:  # e.g. ENOSPC from a write: name the file
            raise OSError(error.errno, error.strerror, str(target)) from error
        raise
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def atomic_write_json(
    target: str | Path, data: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None
) -> None:
    """Write ``data`` as JSON to ``target`` atomically (UTF-8, ending with a newline).

    ``default`` converts what JSON cannot hold (e.g. ``str`` for paths); ``indent`` None writes one line.
    """
    atomic_write_text(target, json.dumps(data, indent=indent, default=default) + "\n")
