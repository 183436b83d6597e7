"""Download from the Materials Project (``mp-api`` client) into the generic folder format.

Two passes, each paged (``_skip`` / ``_limit``) and resumable:

1. ``materials/summary``: structure (written as ``<material_id>.cif``), band gap (eV), is_metal,
   energy above hull and formation energy (eV/atom), symmetry, deprecation and warnings;
2. ``materials/elasticity``: K_VRH and G_VRH (GPa) of the downloaded materials.

After every page the new CIFs are written (atomically), then ``labels.csv``, then
``download_state.json`` (the page offsets). A download that is interrupted and started again continues
from the saved offsets and skips ids already written (pages are addressed by offset: should the database
change between the interruption and the resume, a few documents could shift between pages; start a fresh
folder for an exact snapshot). Transient failures (HTTP 429 and 5xx, connection errors, time-outs) are
retried with exponential back-off; other errors stop the download. The elasticity pass pages through all
elasticity documents (about 14 requests of 1000) and keeps those of the downloaded materials.

The API key comes from the ``api_key`` argument or ``$MP_API_KEY``. It is only handed to the client (which
sends it as a request header): it is never logged, printed, written to a file or put in an error message.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crystalgenome.data.columns import PROPERTY_COLUMNS
from crystalgenome.data.sources.folder import LABELS_FILE
from crystalgenome.errors import CrystalGenomeError
from crystalgenome.utils.atomic import atomic_path, atomic_write_json, atomic_write_text
from crystalgenome.utils.provenance import run_metadata

logger = logging.getLogger(__name__)

API_KEY_ENV = "MP_API_KEY"
ENDPOINT_ENV = "MP_API_ENDPOINT"
"""Also read by the mp-api client itself: an alternative REST endpoint (e.g. a mirror or a test server)."""

STATE_FILE = "download_state.json"  # both listed in folder.RESERVED_FILES: never read as structures
INFO_FILE = "download_info.json"

SUMMARY_FIELDS: tuple[str, ...] = (
    "material_id",
    "structure",
    "band_gap",
    "is_metal",
    "energy_above_hull",
    "formation_energy_per_atom",
    "symmetry",
    "deprecated",
    "warnings",
    "has_props",
    "theoretical",
    "formula_pretty",
)
ELASTICITY_FIELDS: tuple[str, ...] = ("material_id", "bulk_modulus", "shear_modulus")

LABEL_COLUMNS: tuple[str, ...] = (
    *PROPERTY_COLUMNS,
    "is_metal",
    "has_bandstructure",
    "deprecated",
    "warnings",
    "theoretical",
    "formula",
    "mp_space_group_number",
    "mp_crystal_system",
)
"""Columns of the ``labels.csv`` written (after ``id``)."""

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_STATUS = re.compile(r"(?:status code|too many) (\d{3})")
_TRANSIENT_WORDS = ("max retries exceeded", "connection", "timed out", "timeout", "temporarily")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

T = TypeVar("T")


class MaterialsProjectError(CrystalGenomeError):
    """The download cannot go on (no key, refused request, retries exhausted, ...)."""


@dataclass
class DownloadReport:
    """What a download did.

    Attributes:
        out_dir: the dataset folder.
        written: materials written by this run.
        already_present: materials skipped because an earlier run had written them.
        available: materials matching the criteria on the server (``total_doc``).
        with_elasticity: downloaded materials that have K_VRH / G_VRH.
        failed: (material id, reason) of documents that could not be written.
    """

    out_dir: Path
    written: int = 0
    already_present: int = 0
    available: int = 0
    with_elasticity: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def is_transient(error: BaseException) -> bool:
    """True for failures worth retrying: HTTP 408/425/429/5xx, connection errors, time-outs."""
    import requests

    if isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return True
    text = str(error).lower()
    statuses = {int(code) for code in _STATUS.findall(text)}
    if statuses:
        return bool(statuses & TRANSIENT_STATUS)
    return any(word in text for word in _TRANSIENT_WORDS)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    max_retries: int,
    backoff: float,
    max_delay: float = 120.0,
    api_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried up to ``max_retries`` times on transient failures after waiting
    ``backoff × 2^attempt`` seconds (at most ``max_delay``). Error messages never contain ``api_key``."""
    for attempt in range(max_retries + 1):
        try:
            return call()
        except Exception as error:  # classified below; anything not transient is re-raised
            message = " ".join(_redact(f"{type(error).__name__}: {error}", api_key).split())[:1000]
            if not is_transient(error):
                raise MaterialsProjectError(f"{what} failed: {message}") from None
            if attempt == max_retries:
                raise MaterialsProjectError(f"{what} failed after {max_retries} retries: {message}") from None
            delay = min(backoff * 2**attempt, max_delay)
            logger.warning(
                "%s: transient failure (%s); retry %d/%d in %.1f s",
                what,
                message,
                attempt + 1,
                max_retries,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ documents -> rows


def _has_bandstructure(has_props: Any) -> bool | None:
    if has_props is None:
        return None
    if isinstance(has_props, Mapping):
        return bool(has_props.get("bandstructure", False))
    return "bandstructure" in {str(p).lower() for p in has_props}


def _modulus(value: Any) -> float | None:
    """The VRH value of a ``{"voigt", "reuss", "vrh"}`` modulus (GPa), or a bare number."""
    if isinstance(value, Mapping):
        value = value.get("vrh")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def summary_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One ``labels.csv`` row (without the id) from a summary document."""
    symmetry = doc.get("symmetry") or {}
    system = symmetry.get("crystal_system")
    warnings_list = doc.get("warnings") or []
    return {
        "band_gap": doc.get("band_gap"),
        "formation_energy_per_atom": doc.get("formation_energy_per_atom"),
        "e_above_hull": doc.get("energy_above_hull"),
        "k_vrh": None,
        "g_vrh": None,
        "is_metal": doc.get("is_metal"),
        "has_bandstructure": _has_bandstructure(doc.get("has_props")),
        "deprecated": doc.get("deprecated"),
        "warnings": "; ".join(map(str, warnings_list))
        if isinstance(warnings_list, list)
        else str(warnings_list),
        "theoretical": doc.get("theoretical"),
        "formula": doc.get("formula_pretty"),
        "mp_space_group_number": symmetry.get("number"),
        "mp_crystal_system": str(system).lower() if system else None,
    }


def structure_cif(structure: Mapping[str, Any]) -> str:
    """CIF text (pymatgen's ``CifWriter``, P1) of a ``Structure.as_dict()``."""
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(CifWriter(Structure.from_dict(dict(structure))))


# ------------------------------------------------------------------ the folder being written


class _Dataset:
    """The output folder: CIFs, ``labels.csv`` and the resume state."""

    def __init__(self, out_dir: Path, config: dict[str, Any]) -> None:
        import json

        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        state_path = out_dir / STATE_FILE
        state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
        if state and state.get("config") != config:
            raise MaterialsProjectError(
                f"{out_dir} holds a download made with other settings ({state.get('config')}); "
                "use another folder or delete it"
            )
        self.state: dict[str, Any] = {
            "config": config,
            "summary": {"skip": 0, "done": False},
            "elasticity": {"skip": 0, "done": False},
            **state,
        }
        self.rows: dict[str, dict[str, Any]] = self._read_rows()

    def _read_rows(self) -> dict[str, dict[str, Any]]:
        import pandas as pd

        path = self.out_dir / LABELS_FILE
        if not path.is_file():
            return {}
        table = pd.read_csv(
            path, dtype={"id": str}, keep_default_na=False, na_values={c: [""] for c in PROPERTY_COLUMNS}
        )
        rows = {}
        for record in table.to_dict("records"):
            material_id = str(record.pop("id"))
            if (self.out_dir / f"{material_id}.cif").is_file():
                rows[material_id] = record
        return rows

    def has(self, material_id: str) -> bool:
        return material_id in self.rows

    def add(self, material_id: str, cif: str, row: dict[str, Any]) -> None:
        atomic_write_text(self.out_dir / f"{material_id}.cif", cif)
        self.rows[material_id] = row

    def save(self) -> None:
        """Write ``labels.csv`` then the state, each atomically (a crash between them only repeats a page)."""

        import pandas as pd

        table = pd.DataFrame.from_dict(self.rows, orient="index", columns=list(LABEL_COLUMNS))
        table.index.name = "id"
        with atomic_path(self.out_dir / LABELS_FILE) as temporary:
            table.to_csv(temporary)
        atomic_write_json(self.out_dir / STATE_FILE, self.state, indent=1)


# ------------------------------------------------------------------ paging


def _page(
    rester: Any, criteria: Mapping[str, Any], fields: Sequence[str], skip: int, limit: int
) -> tuple[list, int]:
    """One page of raw documents and the total count matching ``criteria``."""
    query = {**criteria, "_skip": skip, "_limit": limit}
    result = rester._query_resource(  # the public search() pages everything at once; we page ourselves
        criteria=query, fields=list(fields), use_document_model=False, num_chunks=1, chunk_size=limit
    )
    data = list(result.get("data") or [])
    total = int((result.get("meta") or {}).get("total_doc", skip + len(data)))
    return data, total


def _make_rester(kind: str, api_key: str, endpoint: str | None) -> Any:
    from mp_api.client.routes.materials.elasticity import ElasticityRester
    from mp_api.client.routes.materials.summary import SummaryRester

    cls = SummaryRester if kind == "summary" else ElasticityRester
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(api_key=api_key, endpoint=endpoint, use_document_model=False, mute_progress_bars=True)


def _resolve_key(api_key: str | None) -> str:
    key = api_key or os.environ.get(API_KEY_ENV, "")
    if not key:
        raise MaterialsProjectError(f"no Materials Project API key: set ${API_KEY_ENV} or pass --api-key")
    if len(key) != 32:
        raise MaterialsProjectError("the Materials Project API key must be 32 characters long")
    return key


def download_materials_project(
    out_dir: str | Path,
    *,
    api_key: str | None = None,
    criteria: Mapping[str, Any] | None = None,
    limit: int | None = None,
    chunk_size: int = 1000,
    max_retries: int = 5,
    backoff: float = 2.0,
    fields: Sequence[str] = SUMMARY_FIELDS,
    elasticity: bool = True,
    endpoint: str | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadReport:
    """Download Materials Project structures and properties into ``out_dir`` (generic folder format).

    Args:
        out_dir: dataset folder (created; an earlier, interrupted download there is resumed).
        api_key: Materials Project API key (default ``$MP_API_KEY``). Never logged or stored.
        criteria: summary query parameters of the REST API, e.g. ``{"elements": "Si,O",
            "nelements_max": 3, "deprecated": False}`` (default: everything).
        limit: stop after this many materials (default: all matching).
        chunk_size: documents per request (the server caps it at 1000).
        max_retries: retries of one request on transient failures.
        backoff: first retry delay, s (doubled at each retry).
        fields: summary fields requested (``material_id`` and ``structure`` are always added).
        elasticity: also fetch K_VRH and G_VRH from the elasticity endpoint.
        endpoint: REST endpoint (default ``$MP_API_ENDPOINT`` or the public API).
        progress: show progress bars.
        sleep: how to wait between retries (tests pass a recorder).
    """
    from tqdm.auto import tqdm

    key = _resolve_key(api_key)
    out = Path(out_dir)
    criteria = dict(criteria or {})
    fields = tuple(dict.fromkeys(("material_id", "structure", *fields)))
    config = {"criteria": criteria, "fields": list(fields), "limit": limit, "elasticity": elasticity}
    dataset = _Dataset(out, config)
    report = DownloadReport(out_dir=out, already_present=len(dataset.rows))
    retry = {"max_retries": max_retries, "backoff": backoff, "api_key": key, "sleep": sleep}
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    atomic_write_json(out / INFO_FILE, _info(config, endpoint), indent=1, default=str)

    summary = dataset.state["summary"]
    if not summary["done"]:
        rester = with_retries(
            lambda: _make_rester("summary", key, endpoint), what="connecting to MP", **retry
        )
        bar = tqdm(desc="MP summary", unit="material", disable=not progress, initial=summary["skip"])
        while True:
            size = chunk_size if limit is None else min(chunk_size, limit - summary["skip"])
            if size <= 0:
                break
            skip = summary["skip"]
            docs, total = with_retries(
                lambda skip=skip, size=size: _page(rester, criteria, fields, skip, size),
                what=f"summary page at offset {skip}",
                **retry,
            )
            report.available = total
            bar.total = total if limit is None else min(total, limit)
            for doc in docs:
                _store_summary(dataset, doc, report)
            summary["skip"] = skip + len(docs)
            dataset.save()
            bar.update(len(docs))
            if not docs or summary["skip"] >= total:
                break
        bar.close()
        summary["done"] = True
        dataset.save()
    if elasticity:
        _download_elasticity(dataset, key, endpoint, chunk_size, retry, progress)
    report.with_elasticity = sum(1 for row in dataset.rows.values() if _present(row.get("k_vrh")))
    return report


def _present(value: Any) -> bool:
    """True for a real value (not None, NaN or "")."""
    if isinstance(value, float):
        return not math.isnan(value)
    return value is not None and value != ""


def _store_summary(dataset: _Dataset, doc: Mapping[str, Any], report: DownloadReport) -> None:
    material_id = str(doc.get("material_id", ""))
    if not _SAFE_ID.match(material_id):
        report.failed.append((material_id, "missing or unusable material id"))
        return
    if dataset.has(material_id):
        return
    try:
        cif = structure_cif(doc["structure"])
    except Exception as error:  # one bad document must not stop the download
        report.failed.append((material_id, f"structure not usable ({type(error).__name__}: {error})"))
        logger.warning("%s: structure not usable (%s)", material_id, type(error).__name__)
        return
    dataset.add(material_id, cif, summary_row(doc))
    report.written += 1


def _download_elasticity(
    dataset: _Dataset, key: str, endpoint: str | None, chunk_size: int, retry: dict, progress: bool
) -> None:
    from tqdm.auto import tqdm

    state = dataset.state["elasticity"]
    if state["done"]:
        return
    rester = with_retries(lambda: _make_rester("elasticity", key, endpoint), what="connecting to MP", **retry)
    bar = tqdm(desc="MP elasticity", unit="doc", disable=not progress, initial=state["skip"])
    while True:
        skip = state["skip"]
        docs, total = with_retries(
            lambda skip=skip: _page(rester, {}, ELASTICITY_FIELDS, skip, chunk_size),
            what=f"elasticity page at offset {skip}",
            **retry,
        )
        bar.total = total
        for doc in docs:
            row = dataset.rows.get(str(doc.get("material_id", "")))
            if row is not None:
                row["k_vrh"] = _modulus(doc.get("bulk_modulus"))
                row["g_vrh"] = _modulus(doc.get("shear_modulus"))
        state["skip"] = skip + len(docs)
        dataset.save()
        bar.update(len(docs))
        if not docs or state["skip"] >= total:
            break
    bar.close()
    state["done"] = True
    dataset.save()


def _info(config: dict[str, Any], endpoint: str | None) -> dict[str, Any]:
    metadata = run_metadata({**config, "endpoint": endpoint or "default"})
    metadata["command"] = "crystalgenome download-mp"  # argv could hold --api-key: never recorded
    return metadata
