"""Duplicate customers (entity resolution) with Splink: pairs, clusters, a survivor per cluster.

:func:`find_duplicates` links the records of one table that describe the same customer, without
labels: a Fellegi-Sunter model (Splink 4+/5) whose ``u`` probabilities come from random pairs and
whose ``m`` probabilities come from expectation maximisation on blocked pairs. It compares
whatever the table has of person name, organisation (company name and tax id, one piece of
evidence), e-mail, phone and address, and uses the city for blocking only (after :mod:`~salesml.quality.normalise` and :mod:`~salesml.quality.contacts`: width, case,
punctuation and legal-form suffixes in Chinese and Latin script; phones as E.164; e-mails
lower-cased), and returns

* ``pairs``: every candidate pair scored at or above ``pair_threshold`` (``id_l``, ``id_r``,
  ``match_probability``, ``match_weight``);
* ``clusters``: one row per input record, in input order: ``cluster_id`` (the surviving record's id),
  ``cluster_size``, ``is_survivor``; records link when their match probability reaches ``threshold``
  (connected components);
* ``mapping``: old id -> cluster id for every record (what ``params.customer_map`` applies);
* ``model``: the trained Splink settings (parameters only, no values from the data).

Candidate pairs come from records sharing an e-mail, a phone or an address, a name within one
city, or a company / tax id with a name that starts alike (``blocking`` overrides this with SQL
rules on the prepared columns ``name_n``, ``company_n``, ``email_n``, ``phone_n``, ``address_n``,
``city_n``, ``tax_n``). Values shared by more than ``max_block_size`` records (a switchboard phone,
``info@``) are placeholders, not evidence.

The survivor of a cluster follows ``survivor`` rules in order: ``most_complete`` (most filled and
valid contact fields), ``most_recent`` (latest ``updated_at``), then the smallest id.

DuckDB (embedded) is the default backend; ``backend="spark"`` runs the same model on Spark
(``pip install 'salesml[spark]'``) when one machine is not enough.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .contacts import REASON_COLUMN, ContactColumns, validate_contacts
from .normalise import normalise_column

logger = logging.getLogger(__name__)

__all__ = ["DedupeResult", "DedupeSettings", "find_duplicates", "load_dedupe_settings", "prepare_for_matching"]

_PREPARED = {
    "name_n": "person", "company_n": "company", "email_n": "email", "phone_n": "phone",
    "address_n": "address", "city_n": "city", "tax_n": "tax_id",
}

#: Columns whose values identify a record: one shared by very many records is a placeholder ("000", "info@").
_IDENTIFYING = ("email_n", "phone_n", "tax_n", "address_n")


class DedupeSettings(BaseModel):
    """Duplicate-detection settings (YAML ``dedupe:``); every field has a working default."""

    model_config = ConfigDict(extra="forbid")

    columns: ContactColumns = Field(default_factory=ContactColumns)
    # 0.99: chance agreements (common names, shared companies) grow with the table; on built-in contacts
    # pairwise F1 at 0.9 fell from 0.9995 (10k records) to 0.995 (1M), at 0.99 it stays above 0.999
    threshold: float = Field(0.99, gt=0, lt=1, description="Match probability from which two records are linked.")
    pair_threshold: float = Field(0.5, gt=0, lt=1, description="Lowest match probability kept in the pairs output.")
    survivor: list[Literal["most_complete", "most_recent"]] = ["most_complete", "most_recent"]
    blocking: list[str] | None = Field(
        None, description="SQL blocking rules on the prepared columns (l.email_n = r.email_n...); default: built in."
    )
    max_block_size: int = Field(
        500, ge=2, description="A value shared by more records than this is a placeholder, not evidence."
    )
    u_pairs: float = Field(1e6, gt=0, description="Random pairs for the u probabilities.")
    em_pairs: float = Field(1e6, gt=0, description="Most blocked pairs per expectation-maximisation session.")
    backend: Literal["duckdb", "spark"] = "duckdb"
    default_region: str | None = "CN"
    random_state: int = 0


def load_dedupe_settings(source: str | Path | Mapping[str, Any] | DedupeSettings | None) -> DedupeSettings:
    """Settings from a YAML file (its ``dedupe:`` section or the whole file), a mapping or ``None`` (defaults)."""
    if source is None:
        return DedupeSettings()
    if isinstance(source, DedupeSettings):
        return source
    data: Any = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Quality settings {path} do not exist.")
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    data = dict(data.get("dedupe", data)) if isinstance(data, Mapping) else data
    try:
        return DedupeSettings.model_validate(data)
    except ValidationError as err:
        lines = [f"Invalid dedupe settings in {source if isinstance(source, (str, Path)) else 'the mapping'}:"]
        lines += [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        raise ValueError("\n".join(lines)) from None


@dataclass(frozen=True, eq=False)
class DedupeResult:
    """What :func:`find_duplicates` found; see the module docstring for the columns."""

    pairs: pd.DataFrame = field(repr=False)
    clusters: pd.DataFrame = field(repr=False)
    model: dict[str, Any] = field(repr=False)
    compared: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def mapping(self) -> pd.DataFrame:
        """Old id -> cluster id, one row per record (``customer_map``)."""
        return self.clusters.loc[:, ["id", "cluster_id"]].rename(columns={"id": "old_id"})

    @property
    def duplicate_rate(self) -> float:
        """Share of records that are not their cluster's survivor (records a merge would remove)."""
        return float((~self.clusters["is_survivor"]).mean()) if len(self.clusters) else 0.0

    def __repr__(self) -> str:
        n = len(self.clusters)
        k = self.clusters["cluster_id"].nunique() if n else 0
        return f"DedupeResult(records={n:,}, clusters={k:,}, pairs={len(self.pairs):,})"


def prepare_for_matching(frame: pd.DataFrame, settings: DedupeSettings) -> tuple[pd.DataFrame, dict[str, str]]:
    """The normalised columns Splink compares (``unique_id`` = row position) and why others were left out."""
    cols = settings.columns.present(frame)
    validated = frame if REASON_COLUMN in frame.columns else validate_contacts(
        frame, cols, default_region=settings.default_region)
    out = pd.DataFrame({"unique_id": np.arange(len(frame), dtype="int64")})
    skipped: dict[str, str] = {}
    for prepared, role in _PREPARED.items():
        source = getattr(cols, role)
        if source is None:
            skipped[prepared] = f"no {role} column"
            continue
        if role == "email":
            values = validated["email_normalised"].reset_index(drop=True)
        elif role == "phone":
            values = validated["phone_e164"].reset_index(drop=True)
        else:
            how = {"person": "person", "company": "company"}.get(role, "text")
            values = normalise_column(frame[source].reset_index(drop=True), how)
            if role == "tax_id":
                values = values.map(lambda v: v.replace(" ", "") if isinstance(v, str) else v)
        values = values.astype(object).where(values.notna(), None)
        if values.isna().all():
            skipped[prepared] = f"column {source!r} is empty"
            continue
        counts = values.value_counts() if prepared in _IDENTIFYING else values.iloc[:0].value_counts()
        placeholders = counts.index[counts > settings.max_block_size]
        if len(placeholders):
            logger.warning("%d value(s) of %r are shared by more than %d records and are not used as evidence",
                           len(placeholders), source, settings.max_block_size)
            values = values.where(~values.isin(placeholders), None)
        out[prepared] = values
    return out, skipped


def _comparisons(present: set[str]) -> list[Any]:
    """One comparison per independent piece of evidence.

    Company name and tax id describe the *organisation*, which colleagues share: they are one
    comparison (tax id agreeing, else company name agreeing or close), so that two people at one
    company do not collect the same evidence twice. City is used for blocking only (it follows the
    address and the company).
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    comps = []
    if "name_n" in present:
        comps.append(cl.JaroWinklerAtThresholds("name_n", [0.95, 0.88]).configure(term_frequency_adjustments=True))
    if {"company_n", "tax_n"} <= present:
        comps.append(cl.CustomComparison(
            [
                cll.And(cll.NullLevel("company_n"), cll.NullLevel("tax_n")),
                cll.And(cll.ExactMatchLevel("tax_n"), cll.JaroWinklerLevel("company_n", 0.88)),
                cll.ExactMatchLevel("tax_n"),
                cll.ExactMatchLevel("company_n"),
                cll.JaroWinklerLevel("company_n", 0.92),
                cll.ElseLevel(),
            ],
            output_column_name="organisation",
        ))
    elif "company_n" in present:
        comps.append(cl.JaroWinklerAtThresholds("company_n", [0.95, 0.88]).configure(term_frequency_adjustments=True))
    elif "tax_n" in present:
        comps.append(cl.ExactMatch("tax_n"))
    if "email_n" in present:
        comps.append(cl.EmailComparison("email_n"))
    if "phone_n" in present:
        comps.append(cl.LevenshteinAtThresholds("phone_n", [2]))
    if "address_n" in present:
        comps.append(cl.JaroWinklerAtThresholds("address_n", [0.95, 0.85]))
    if not comps and "city_n" in present:
        comps.append(cl.ExactMatch("city_n"))
    return comps


def _blocking(present: set[str]) -> list[Any]:
    """Candidate pairs: records sharing an e-mail, a phone or an address, or a name (in one city), or a
    company or tax id with a name that starts alike. Common names and companies never form blocks alone:
    their pairs grow with the square of the table."""
    from splink import block_on

    rules = [block_on(c) for c in ("email_n", "phone_n", "address_n") if c in present]
    if "name_n" in present:
        rules.append(block_on("name_n", "city_n") if "city_n" in present else block_on("name_n"))
        for c, k in (("company_n", 2), ("tax_n", 1)):
            if c in present:
                rules.append(block_on(c, f"substr(name_n, 1, {k})"))
    elif "company_n" in present:
        rules.append(block_on("company_n", "city_n") if "city_n" in present else block_on("company_n"))
    return rules


def _db_api(backend: str) -> Any:
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("pyspark is needed for the Spark backend: pip install 'salesml[spark]'") from err
    from splink import SparkAPI
    from splink.backends.spark import similarity_jar_location

    import os
    import sys

    # the workers must run this Python (with pandas), and a session made here may be reused by scoring later
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[2]").appName("salesml-dedupe")
             .config("spark.jars", similarity_jar_location()).config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false").getOrCreate())
    if not spark.sparkContext.getCheckpointDir():  # Splink checkpoints intermediate tables
        import tempfile

        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="salesml-spark-checkpoints-"))
    return SparkAPI(spark_session=spark)


def find_duplicates(
    frame: pd.DataFrame,
    settings: DedupeSettings | Mapping[str, Any] | str | Path | None = None,
) -> DedupeResult:
    """Pairs, clusters and survivors of ``frame``'s duplicate records (see the module docstring).

    ``frame`` may be the output of :func:`~salesml.quality.contacts.validate_contacts` (its normalised
    e-mails and phones are reused) or the raw table. Rows in = rows out in ``clusters``.
    """
    cfg = load_dedupe_settings(settings)
    cols = cfg.columns.present(frame)
    ids = frame[cols.id].astype(object)
    if ids.isna().any():
        rows = [int(i) for i in np.flatnonzero(ids.isna().to_numpy())[:10]]
        raise ValueError(f"Column {cols.id!r} is empty on {int(ids.isna().sum())} row(s) (row positions {rows}): "
                         "every record needs an id to map duplicates to.")
    id_text = ids.astype(str)
    if id_text.duplicated().any():
        dup = id_text[id_text.duplicated(keep=False)].unique()[:10].tolist()
        raise ValueError(f"Column {cols.id!r} is not unique ({int(id_text.duplicated().sum())} repeated id(s), "
                         f"e.g. {dup}); duplicate detection maps ids, so each must name one record.")
    prepared, skipped = prepare_for_matching(frame, cfg)
    present = set(prepared.columns) - {"unique_id"}
    n = len(frame)
    empty_pairs = pd.DataFrame({"id_l": pd.Series(dtype=object), "id_r": pd.Series(dtype=object),
                                "match_probability": pd.Series(dtype=float), "match_weight": pd.Series(dtype=float)})
    if n < 2 or len(present) < 2:
        if n >= 2:
            logger.warning("only %s can be compared: duplicate detection needs two fields or more", sorted(present))
            skipped["model"] = "fewer than two comparable fields"
        clusters = _clusters(frame, cols, id_text, np.arange(n), cfg)
        return DedupeResult(empty_pairs, clusters, {}, tuple(sorted(present)), skipped)
    pairs, labels, model = _splink(prepared, present, cfg, n)
    clusters = _clusters(frame, cols, id_text, labels, cfg)
    if len(pairs):
        pairs = pd.DataFrame({
            "id_l": id_text.to_numpy()[pairs["unique_id_l"].to_numpy()],
            "id_r": id_text.to_numpy()[pairs["unique_id_r"].to_numpy()],
            "match_probability": pairs["match_probability"].to_numpy(dtype=float),
            "match_weight": pairs["match_weight"].to_numpy(dtype=float),
        }).sort_values(["id_l", "id_r"], kind="stable").reset_index(drop=True)
    else:
        pairs = empty_pairs
    return DedupeResult(pairs, clusters, model, tuple(sorted(present)), skipped)


def _splink(prepared: pd.DataFrame, present: set[str], cfg: DedupeSettings, n: int):
    from splink import Linker, SettingsCreator, block_on
    from splink.internals.exceptions import SplinkException

    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)
    comps = _comparisons(present)
    rules = cfg.blocking or _blocking(present)
    db = _db_api(cfg.backend)
    table = db.register(prepared, dataset_display_name="salesml_contacts")
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=comps, blocking_rules_to_generate_predictions=rules,
        retain_matching_columns=False, retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=1.0 / max(n, 2),
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    deterministic = [block_on(c) for c in ("email_n", "phone_n") if c in present] or [block_on(min(present))]
    if any(prepared[c].dropna().duplicated().any() for c in ("email_n", "phone_n") if c in present):
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    else:  # no two records share an e-mail or a phone: the estimate would be 0; keep the 1/n prior
        logger.info("no record shares an e-mail or phone; the prior match probability stays 1/%d", n)
    linker.training.estimate_u_using_random_sampling(max_pairs=cfg.u_pairs, seed=cfg.random_state)
    # EM blocks: each leaves out the comparisons it blocks on, so together they train every m probability
    # (at most em_pairs pairs each, sampled by Splink, so that common names do not make training quadratic)
    sessions = [(c,) for c in ("email_n", "phone_n", "name_n") if c in present]
    for columns in sessions:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), estimate_without_term_frequencies=True, max_pairs=cfg.em_pairs)
        except (SplinkException, ValueError, ZeroDivisionError) as err:  # too few pairs in a block (tiny tables)
            logger.info("EM on %s skipped: %s", columns, err)
    scored = linker.inference.predict(threshold_match_probability=min(cfg.pair_threshold, cfg.threshold))
    pairs = scored.as_pandas_dataframe()
    keep = pairs["match_probability"] >= cfg.pair_threshold
    links = pairs.loc[pairs["match_probability"] >= cfg.threshold, ["unique_id_l", "unique_id_r"]]
    labels = _components(n, links["unique_id_l"].to_numpy(dtype="int64"), links["unique_id_r"].to_numpy(dtype="int64"))
    model = linker.misc.save_model_to_json(out_path=None)
    return pairs.loc[keep].reset_index(drop=True), labels, model


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of the link graph (scipy), one label per record."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _clusters(frame: pd.DataFrame, cols: ContactColumns, ids: pd.Series, labels: np.ndarray, cfg: DedupeSettings):
    """One row per record: id, cluster_id (the survivor's id), cluster_size, is_survivor."""
    n = len(frame)
    fields = [c for c in (cols.company, cols.person, cols.email, cols.phone, cols.address, cols.city, cols.tax_id) if c]
    filled = np.zeros(n, dtype=float)
    for c in fields:
        filled += frame[c].notna().to_numpy() & (frame[c].astype(str).str.strip() != "").to_numpy()
    if REASON_COLUMN in frame.columns:  # a valid contact counts for more than a filled but broken one
        reasons = frame[REASON_COLUMN].fillna("").astype(str)
        filled -= 0.5 * (reasons.str.contains("invalid|unparseable", regex=True).to_numpy())
    recent = (pd.to_datetime(frame[cols.updated_at], errors="coerce").astype("int64").to_numpy()
              if cols.updated_at else np.zeros(n, dtype="int64"))
    if cols.updated_at:
        recent = np.where(pd.to_datetime(frame[cols.updated_at], errors="coerce").isna().to_numpy(), np.iinfo("int64").min,
                          recent)
    order = pd.DataFrame({"label": labels, "id": ids.to_numpy(), "filled": filled, "recent": recent})
    keys, ascending = ["label"], [True]
    for rule in cfg.survivor:
        keys.append("filled" if rule == "most_complete" else "recent")
        ascending.append(False)
    keys.append("id")
    ascending.append(True)
    ranked = order.sort_values(keys, ascending=ascending, kind="stable")
    survivor_of = ranked.drop_duplicates("label").set_index("label")["id"]
    cluster_id = survivor_of.reindex(labels).to_numpy()
    size = order.groupby("label")["id"].transform("size").to_numpy()
    return pd.DataFrame({
        "id": ids.to_numpy(), "cluster_id": cluster_id, "cluster_size": size.astype("int64"),
        "is_survivor": cluster_id == ids.to_numpy(),
    })
