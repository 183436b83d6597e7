"""The tar reader: same members as :mod:`tarfile`, any request order, bounded windows."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from crystalgenome.data.sources.tarstream import iter_members, list_members, stream_members

LONG = "cifs/" + "d" * 90 + "/" + "e" * 60 + ".cif"
"""Longer than a header's 100-byte name field: GNU, pax and ustar (prefix) store it differently."""


def make_archive(path: Path, *, fmt: int, mode: str) -> dict[str, bytes]:
    """An archive with a folder, a symlink, a long name and small files; returns the regular files."""
    files = {f"cifs/{i}.cif": f"data_{i}\n".encode() * (i + 1) for i in range(7)}
    files[LONG] = b"long name\n"
    with tarfile.open(path, mode, format=fmt) as tar:
        folder = tarfile.TarInfo("cifs")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("cifs/link.cif")
        link.type = tarfile.SYMTYPE
        link.linkname = "0.cif"
        tar.addfile(link)
    return files


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_members_equal_tarfile(tmp_path: Path, fmt: int, mode: str) -> None:
    path = tmp_path / "a.tar"
    files = make_archive(path, fmt=fmt, mode=mode)
    assert dict(iter_members(str(path))) == files
    with tarfile.open(path) as tar:
        expected = [m.name for m in tar if m.isfile()]
    assert [name for name, _ in iter_members(str(path))] == expected
    assert list_members(str(path), f"test-{fmt}-{mode.replace(':', '')}") == expected


def test_corrupt_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    make_archive(path, fmt=tarfile.GNU_FORMAT, mode="w")
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF  # inside the second header's name
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        list(iter_members(str(path)))


def test_stream_members_any_order_and_window(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    files = make_archive(path, fmt=tarfile.PAX_FORMAT, mode="w:gz")
    payloads = list(files.values())
    order = [5, 0, None, 7, 7, 2, 6, 1]
    expected = [None if i is None else payloads[i] for i in order]
    for window in (1, 3, 100):
        assert list(stream_members(str(path), order, window=window)) == expected
