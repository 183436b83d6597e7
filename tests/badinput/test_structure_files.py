"""Every kind of bad structure file against every command that reads structures: ``diffract`` (one file),
``predict``, ``featurize`` and ``info`` (one call each over a folder of all bad files plus good ones).

Each bad file must give exactly one line naming the file and the reason (no traceback), and the good
files of the same call must still be processed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crystalgenome.cli.app import app
from crystalgenome.errors import one_line
from crystalgenome.store import FeatureStore
from tests.badinput.conftest import Corpus
from tests.badinput.corpus import BAD_FILES, BadFile


def invoke(*args: str) -> subprocess.CompletedProcess:
    """The command in this process: arguments, exit code, stdout and stderr as users see them."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a failure of the test, shown in full
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def has_reason(line: str, bad: BadFile) -> bool:
    return all(word in line.lower() for word in bad.reason)


def test_the_corpus_is_large() -> None:
    assert len({bad.name for bad in BAD_FILES}) == len(BAD_FILES) >= 40


@pytest.mark.parametrize("bad", BAD_FILES, ids=[bad.name for bad in BAD_FILES])
def test_diffract_gives_one_line_naming_file_and_reason(corpus: Corpus, bad: BadFile) -> None:
    path = corpus.folder / bad.name
    result = invoke("diffract", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"crystalgenome: error: {path}: "), lines[0]
    assert has_reason(lines[0], bad), lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_diffract_reads_the_good_files(corpus: Corpus) -> None:
    for path in corpus.good:
        result = invoke("diffract", str(path))
        assert result.returncode == 0, (path, result.stderr)
        assert json.loads(result.stdout)["hkl"], path


def test_predict_reports_each_bad_file_and_predicts_the_good_ones(corpus: Corpus, tiny_run: Path) -> None:
    result = invoke("predict", str(tiny_run), str(corpus.folder))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.strip().splitlines()
    assert rows[0] == "file\tlabel\tprobability"
    predicted = [row.split("\t") for row in rows[1:]]
    assert all(len(row) == 3 for row in predicted), rows  # tab and newline in names are escaped
    assert sorted(row[0] for row in predicted) == sorted(one_line(str(path)) for path in corpus.good)
    skipped = result.stderr.strip().splitlines()
    for bad in corpus.bad:
        prefix = f"crystalgenome: skipped {corpus.folder / bad.name}: "
        lines = [line for line in skipped if line.startswith(prefix)]
        assert len(lines) == 1, (bad.name, skipped)
        assert has_reason(lines[0], bad), lines[0]
    assert "Traceback" not in result.stderr


def test_predict_reports_a_link_to_its_own_folder(corpus: Corpus, tiny_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "structures"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "si.cif").write_text(corpus.good[0].read_text())
    (folder / "inner" / "back").symlink_to("..")
    (folder / "elsewhere").symlink_to(corpus.folder / "folder.cif")  # a linked folder is scanned
    result = invoke("predict", str(tiny_run), str(folder), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [p["file"] for p in json.loads(result.stdout)] == [str(folder / "inner" / "si.cif")]
    assert result.stderr.strip().splitlines() == [
        f"crystalgenome: skipped {folder / 'inner' / 'back'}: symbolic link loop: it links to {folder}, "
        "a folder that contains the link"
    ]


def test_predict_json_keeps_odd_file_names_exact(corpus: Corpus, tiny_run: Path) -> None:
    odd = [path for path in corpus.good if "\t" in path.name or "\n" in path.name]
    result = invoke("predict", str(tiny_run), *map(str, odd), str(corpus.folder / "zero_length.cif"),
                    "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p["file"] for p in json.loads(result.stdout)) == sorted(map(str, odd))
    assert result.stderr.count("\n") == 1 and "zero_length.cif: cell length a is 0" in result.stderr


def test_featurize_skips_and_reports_each_bad_file(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "store"
    result = invoke("featurize", str(corpus.folder), "--out", str(out), "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    store = FeatureStore.open(out)
    assert sorted(store.ids) == sorted(_stem(path) for path in corpus.good)
    skipped = pd.read_csv(out / "skipped.csv", keep_default_na=False).set_index("material_id")["reason"]
    for bad in corpus.bad:
        assert has_reason(skipped[_stem(corpus.folder / bad.name)], bad), (bad.name, skipped.get(bad.name))
    reported = result.stderr.strip().splitlines()
    shown = [line for line in reported if line.startswith("skipped ")]
    more = next(line for line in reported if line.startswith("... "))
    counts = [int(part.split(" × ")[0]) if " × " in part else int(part.split()[0])
              for part in more[more.index("(") + 1 : -1].split("; ")]  # fmt: skip
    assert int(more.split()[1]) == sum(counts) == len(skipped) - len(shown)
    assert "Traceback" not in result.stderr


def test_info_lists_every_structure_it_cannot_read(corpus: Corpus) -> None:
    result = invoke("info", str(corpus.folder), "--format", "json", "--workers", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    failed = {entry["id"]: entry["reason"] for entry in summary["symmetry_failed"]}
    unreadable = [bad for bad in corpus.bad if not bad.readable]
    for bad in unreadable:
        assert has_reason(failed[_stem(corpus.folder / bad.name)], bad), bad.name
    extra = set(failed) - {_stem(corpus.folder / bad.name) for bad in unreadable}
    assert extra == {"loop_b"}  # the other half of the link loop loop_a -> loop_b -> loop_a
    assert summary["symmetry_failures"] == len(failed)
    assert summary["tasks"]["crystal_system"] and sum(summary["tasks"]["crystal_system"].values()) == (
        summary["count"] - len(failed)
    )


def test_info_text_shows_the_symmetry_failures(corpus: Corpus) -> None:
    result = invoke("info", str(corpus.folder), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "symmetry analysis failed for" in result.stdout
    assert "zero_length: cell length a is 0" in result.stdout or "more (all are listed" in result.stdout


def _stem(path: Path) -> str:
    return path.stem if path.suffix else path.name
