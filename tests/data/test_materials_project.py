"""The Materials Project download against a local server that replays hand-made REST responses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from crystalgenome.data import open_source, symmetry_table, task_labels
from crystalgenome.data.sources.materials_project import (
    MaterialsProjectError,
    download_materials_project,
    is_transient,
)
from tests.data.mp_server import API_KEY, FakeMaterialsProject, serve


def all_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_download_pages_retries_and_writes_the_generic_format(tmp_path: Path) -> None:
    fake = FakeMaterialsProject.from_fixtures()
    fake.failures[("materials/summary", 2)] = [503, 503]  # transient: retried with growing delays
    waits: list[float] = []
    with serve(fake) as endpoint:
        report = download_materials_project(
            tmp_path / "mp",
            api_key=API_KEY,
            endpoint=endpoint,
            chunk_size=2,
            backoff=0.5,
            sleep=waits.append,
            progress=False,
        )
    assert waits == [0.5, 1.0]
    assert fake.pages("materials/summary") == [0, 2, 2, 2, 4]
    assert fake.pages("materials/elasticity") == [0, 2, 4]
    assert (report.written, report.available, report.with_elasticity, report.failed) == (6, 6, 4, [])

    source = open_source(tmp_path / "mp")
    assert source.ids() == ["mp-149", "mp-22862", "mp-13", "mp-2534", "mp-2133", "mp-30"]
    labels = source.labels()
    assert labels.loc["mp-149", "band_gap"] == 0.6105
    assert labels.loc["mp-22862", "formation_energy_per_atom"] == -2.1047
    assert labels.loc["mp-13", "k_vrh"] == 183.0 and labels.loc["mp-13", "g_vrh"] == 76.9
    assert labels["k_vrh"].isna().tolist() == [False, False, False, True, False, True]
    assert labels.loc["mp-2133", "warnings"].startswith("large change")
    metal = task_labels("metal", labels)
    assert metal.tolist()[:3] == [0, 0, 1]
    assert labels["has_bandstructure"].tolist() == [True, True, True, False, True, True]
    assert metal.isna().tolist()[3]  # GaAs: no computed band structure, no metal label
    symmetry = symmetry_table(source, progress=False)
    assert symmetry["space_group_number"].tolist() == labels["mp_space_group_number"].tolist()
    from crystalgenome.data.labels import filter_records

    assert list(filter_records(labels, symmetry=symmetry)) == ["mp-149", "mp-22862", "mp-13", "mp-2534"]


def test_interrupted_download_resumes_without_refetching(tmp_path: Path) -> None:
    fake = FakeMaterialsProject.from_fixtures()
    fake.failures[("materials/summary", 4)] = [500] * 3
    with serve(fake) as endpoint:
        with pytest.raises(MaterialsProjectError, match="after 2 retries"):
            download_materials_project(
                tmp_path,
                api_key=API_KEY,
                endpoint=endpoint,
                chunk_size=2,
                max_retries=2,
                sleep=lambda s: None,
                progress=False,
            )
        assert sorted(p.stem for p in tmp_path.glob("*.cif")) == ["mp-13", "mp-149", "mp-22862", "mp-2534"]
        assert open_source(tmp_path).ids() == ["mp-149", "mp-22862", "mp-13", "mp-2534"]
        fake.requests.clear()
        report = download_materials_project(
            tmp_path, api_key=API_KEY, endpoint=endpoint, chunk_size=2, sleep=lambda s: None, progress=False
        )
        assert fake.pages("materials/summary") == [4]  # the finished pages are not fetched again
        assert (report.written, report.already_present) == (2, 4)
        with pytest.raises(MaterialsProjectError, match="other settings"):
            download_materials_project(tmp_path, api_key=API_KEY, endpoint=endpoint, limit=3, progress=False)
    assert len(open_source(tmp_path).ids()) == 6


def test_limit_and_criteria_are_sent(tmp_path: Path) -> None:
    fake = FakeMaterialsProject.from_fixtures()
    with serve(fake) as endpoint:
        report = download_materials_project(
            tmp_path,
            api_key=API_KEY,
            endpoint=endpoint,
            limit=3,
            chunk_size=2,
            criteria={"nelements_max": 2},
            elasticity=False,
            progress=False,
        )
    assert report.written == 3
    assert [p["_limit"] for _, p in fake.requests] == ["2", "1"]
    assert all(p["nelements_max"] == "2" for _, p in fake.requests)


def test_the_key_never_leaks(tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeMaterialsProject.from_fixtures()
    fake.echo_key_in_errors = True  # a careless server quoting the key back in its error messages
    fake.failures[("materials/summary", 0)] = [503]
    fake.failures[("materials/elasticity", 0)] = [403]
    with serve(fake) as endpoint:
        with pytest.raises(MaterialsProjectError) as raised:
            download_materials_project(tmp_path, api_key=API_KEY, endpoint=endpoint, sleep=lambda s: None)
        wrong = "X" * 32
        with pytest.raises(MaterialsProjectError) as refused:
            download_materials_project(tmp_path / "other", api_key=wrong, endpoint=endpoint, progress=False)
    assert "403" in str(raised.value) and "401" in str(refused.value)
    captured = capsys.readouterr()
    for text in (str(raised.value), str(refused.value), caplog.text, captured.out, captured.err):
        assert API_KEY not in text and wrong not in text
    assert "***" in caplog.text and "***" in str(raised.value)  # the echoed key was redacted
    assert (tmp_path / "labels.csv").is_file() and len(list(tmp_path.glob("*.cif"))) == 6
    assert API_KEY.encode() not in all_bytes(tmp_path)
    info = json.loads((tmp_path / "download_info.json").read_text())
    assert info["command"] == "crystalgenome download-mp"


def test_no_key_and_transient_classification(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import requests

    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(MaterialsProjectError, match="MP_API_KEY"):
        download_materials_project(tmp_path)
    assert is_transient(RuntimeError("REST query returned with error status code 429 on URL x"))
    assert is_transient(RuntimeError("too many 502 error responses"))
    assert is_transient(requests.exceptions.ConnectionError("refused"))
    assert not is_transient(RuntimeError("REST query returned with error status code 422 on URL x"))
    assert not is_transient(RuntimeError("invalid fields requested"))


def test_cli_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from crystalgenome.cli.app import app

    fake = FakeMaterialsProject.from_fixtures()
    with serve(fake) as endpoint:
        monkeypatch.setenv("MP_API_KEY", API_KEY)
        monkeypatch.setenv("MP_API_ENDPOINT", endpoint)
        result = CliRunner().invoke(
            app, ["download-mp", str(tmp_path / "out"), "--limit", "2", "--quiet", "-c", "deprecated=false"]
        )
        assert result.exit_code == 0, result.output
        bad = CliRunner().invoke(app, ["download-mp", str(tmp_path / "x"), "-c", "oops"])
    summary = json.loads(result.stdout)
    assert summary["written"] == 2 and summary["with_elasticity"] == 2
    assert API_KEY not in result.output
    assert all(p.get("deprecated") == "False" for route, p in fake.requests if route == "materials/summary")
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output
