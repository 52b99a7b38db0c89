"""The cleaning pass behind ``salesml clean``: validate contacts, find duplicates, tag, report, publish.

:func:`clean` runs :func:`~salesml.quality.contacts.validate_contacts`,
:func:`~salesml.quality.duplicates.find_duplicates`, optionally
:func:`~salesml.quality.tags.auto_tag`, and :func:`~salesml.quality.kpis.quality_report` on one
table and returns a :class:`CleanResult`; :meth:`CleanResult.write` publishes, all at once:

* ``cleaned.<fmt>``: every input record (rows in = rows out, same order), the user's columns as they
  were plus ``email_normalised``, ``phone_e164``, ``quality_reasons``, ``cluster_id``,
  ``cluster_size``, ``is_survivor`` (and ``tags`` when tagged);
* ``customer_map.<fmt>``: ``old_id`` -> ``cluster_id`` for every record (``params.customer_map``);
* ``pairs.<fmt>``: the scored candidate pairs (ids and probabilities only);
* ``tags.<fmt>``: customer, tag, evidence (when tagged);
* ``quality_report.json`` / ``.html``: aggregates only;
* ``manifest.json``: row counts of every output and the check that every record is accounted for.

The outputs are written into a temporary folder beside the target and swapped in by renames, so a
reader sees the previous complete set or the new one. :func:`read_records` reads CSV as text (ids and
phones keep their leading zeros; only empty cells are missing, so "n/a" stays a value to report) and replaces bytes that are not UTF-8, which the contact checks
then report per row (``encoding_replaced:<column>``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .contacts import validate_contacts
from .duplicates import (
    DedupeResult,
    DedupeSettings,
    find_duplicates,
    load_dedupe_settings,
)
from .kpis import QualityReport, quality_report
from .tags import TagResult, auto_tag, load_tags

logger = logging.getLogger(__name__)

__all__ = ["CleanResult", "clean", "load_quality_settings", "read_records"]


def read_records(path: str | Path) -> pd.DataFrame:
    """A CSV (as text, non-UTF-8 bytes replaced) or Parquet file / folder."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Input {p} does not exist.")
    if p.is_dir() or p.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if p.suffix.lower() in (".csv", ".txt") or p.name.lower().endswith(".csv.gz"):
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8", encoding_errors="replace",
                           low_memory=False)
    raise ValueError(f"Cannot tell the format of {p}: use a .csv or .parquet file (or a folder of Parquet files).")


def load_quality_settings(source: str | Path | Mapping[str, Any] | None) -> tuple[DedupeSettings, Any, dict]:
    """(dedupe settings, tags or None, KPI targets) from a quality YAML (sections ``dedupe``, ``tags``, ``targets``)."""
    data: Any = {}
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Quality settings {path} do not exist.")
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    elif source is not None:
        data = dict(source)
    unknown = set(data) - {"dedupe", "tags", "targets"}
    if unknown:
        raise ValueError(f"Unknown section(s) {sorted(unknown)} in the quality settings; use dedupe, tags and targets.")
    dedupe = load_dedupe_settings(data.get("dedupe", {}))
    tags = load_tags(data["tags"]) if "tags" in data else None
    return dedupe, tags, dict(data.get("targets", {}))


@dataclass(frozen=True, eq=False)
class CleanResult:
    """Everything :func:`clean` produced (see the module docstring)."""

    cleaned: pd.DataFrame = field(repr=False)
    dedupe: DedupeResult = field(repr=False)
    report: QualityReport = field(repr=False)
    tags: TagResult | None = field(default=None, repr=False)

    def write(self, out: str | Path, *, fmt: str = "parquet") -> dict[str, Path]:
        """Publish every output into folder ``out`` at once (temporary folder, then renames)."""
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"fmt must be 'csv' or 'parquet'. Got {fmt!r} instead.")
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            tables = {"cleaned": self.cleaned, "customer_map": self.dedupe.mapping, "pairs": self.dedupe.pairs}
            if self.tags is not None:
                tables["tags"] = self.tags.evidence
            for name, frame in tables.items():
                path = tmp / f"{name}.{fmt}"
                if fmt == "csv":
                    frame.to_csv(path, index=False)
                else:
                    _parquet_safe(frame).to_parquet(path, index=False)
            self.report.write(tmp)
            manifest = {
                "rows_in": int(self.report.summary["rows"]),
                "outputs": {name: {"file": f"{name}.{fmt}", "rows": len(f)} for name, f in tables.items()},
                "every_record_accounted_for": bool(len(self.cleaned) == self.report.summary["rows"]
                                                   == len(self.dedupe.mapping)),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
            for f in tmp.iterdir():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {p.name: p for p in sorted(target.iterdir())}


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (text read next to numbers) become text so Arrow can write them."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {type(v) for v in out[c].dropna().head(10_000)}
            if len(kinds) > 1:
                out[c] = out[c].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out


def clean(
    frame: pd.DataFrame,
    settings: str | Path | Mapping[str, Any] | None = None,
    *,
    table: str = "contacts",
    transactions: pd.DataFrame | None = None,
    leads: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    as_of: str | None = None,
    dedupe: DedupeSettings | None = None,
) -> CleanResult:
    """Validate, deduplicate, tag (when tag inputs are given) and report on ``frame``; rows in = rows out."""
    if len(frame.columns) == 0:
        raise ValueError("The table has no columns: nothing to clean. Check the file and its separator.")
    cfg, tags, targets = load_quality_settings(settings)
    cfg = dedupe or cfg
    validated = validate_contacts(frame.reset_index(drop=True), cfg.columns, default_region=cfg.default_region)
    result = find_duplicates(validated, cfg)
    cleaned = validated.copy()
    for c in ("cluster_id", "cluster_size", "is_survivor"):
        cleaned[c] = result.clusters[c].to_numpy()
    tagged = None
    if any(x is not None for x in (transactions, leads, scores)):
        id_col = cfg.columns.id
        tagged = auto_tag(
            cleaned[id_col].astype(str), tags=tags, as_of=as_of, transactions=transactions, leads=leads,
            promotions=promotions, scores=scores, customer_table=cleaned.rename(columns={id_col: "customer_id"}),
        )
        cleaned["tags"] = tagged.customers.set_index("customer_id")["tags"].reindex(cleaned[id_col].astype(str)).to_numpy()
    report = quality_report(
        cleaned, cfg.columns, table=table, tagged_share=tagged.tagged_share if tagged else None,
        tag_counts=tagged.counts() if tagged else None, targets=targets, compared=result.compared,
        not_compared=result.skipped,
    )
    if len(cleaned) != len(frame) or len(result.mapping) != len(frame):
        raise RuntimeError(f"Records were lost: {len(frame)} in, {len(cleaned)} cleaned, {len(result.mapping)} mapped.")
    return CleanResult(cleaned, result, report, tagged)
