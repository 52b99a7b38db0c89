"""Chunked sources and atomic sinks: CSV records, SQLite and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import salesml
from salesml.scoring.batch import score_batch
from salesml.scoring.streams import CsvSource, SqlSink, SqlSource, open_sink, open_source

AS_OF = "2026-01-01"
PG_URL = os.environ.get("SALESML_TEST_POSTGRES_URL", "postgresql+psycopg://salesml:salesml@127.0.0.1:5432/salesml_test")


@pytest.fixture(scope="module")
def scorer(trained):
    return trained.scorer


@pytest.fixture(scope="module")
def fresh():
    leads, _ = salesml.datasets.make_leads(2_500, start="2025-01-01", end="2025-12-31", random_state=12)
    return leads.drop(columns=["converted", "converted_at"])


def expected(scorer, frame: pd.DataFrame) -> pd.DataFrame:
    out = scorer.score(frame, reasons="none").reset_index(drop=True)
    out["lead_id"] = out["lead_id"].astype(str)
    return out


def table(url: str, name: str, order: str = "lead_id") -> pd.DataFrame:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(text(f'SELECT * FROM "{name}" ORDER BY "{order}"'), conn)
    finally:
        engine.dispose()


def tables_named(url: str, like: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE :like"
            else:
                sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE :like"
            return sorted(r[0] for r in conn.execute(text(sql), {"like": like}))
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ CSV
def test_csv_records_keep_their_positions_around_malformed_lines(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('id,a,b\n1,2,x\n2,3\n3,4,"two\nlines"\n4,5,y,extra\n5,6,z\n')
    chunks = list(CsvSource(path, block_size=16).chunks(2, ["id", "a", "b"]))
    good = pd.concat([c.frame for c in chunks])
    assert good.index.tolist() == [0, 2, 4]
    assert good["b"].tolist() == ["x", "two\nlines", "z"]
    bad = {k: v for c in chunks for k, v in c.malformed.items()}
    assert bad == {1: ("malformed_row", "line 3: 2 fields where the header has 3"), 3: ("malformed_row", "line 6: 4 fields where the header has 3")}
    assert sum(c.n_records for c in chunks) == 5


def test_open_source_and_sink_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match=r"Cannot tell the format of .*data.json: use a .csv or .parquet file"):
        open_source(tmp_path / "data.json")
    with pytest.raises(ValueError, match="--query/--table apply to SQL inputs"):
        open_source(tmp_path / "a.csv", table="leads")
    with pytest.raises(ValueError, match="is a database: name the table to write"):
        open_sink("sqlite:///x.db")
    with pytest.raises(ValueError, match="must end in .csv or .parquet"):
        open_sink(tmp_path / "scores.xlsx")
    with pytest.raises(ValueError, match="exactly one of query= .* or table="):
        SqlSource("sqlite:///x.db")


# --------------------------------------------------------------------- SQLite
def test_sqlite_table_scored_back_into_the_same_database(scorer, fresh, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    fresh.to_sql("leads", engine, index=False)
    engine.dispose()
    source = open_source(url, table="leads", order_by="lead_id")
    result = score_batch(scorer, source, open_sink(url, table="lead_scores"), as_of=AS_OF, reasons="none", chunk_size=700)
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (2_500, 2_500, 0)
    scores = table(url, "lead_scores")
    ref = expected(scorer, fresh.sort_values("lead_id"))
    pd.testing.assert_series_equal(scores["probability"], ref["probability"])
    assert scores["lead_id"].tolist() == ref["lead_id"].tolist()
    assert scores["follow_up"].astype(bool).tolist() == ref["follow_up"].tolist()
    assert table(url, "lead_scores_rejects", order="row").empty
    manifests = table(url, "salesml_batch_manifests", order="finished_at")
    assert len(manifests) == 1 and json.loads(manifests["manifest"][0])["counts"]["rows_scored"] == 2_500

    # The digest of a SQL output is that of the same rows as CSV: compare with a CSV run.
    csv = score_batch(scorer, source, tmp_path / "scores.csv", as_of=AS_OF, reasons="none", chunk_size=700)
    assert result.manifest["outputs"]["scores"]["sha256"] == csv.manifest["outputs"]["scores"]["sha256"]
    assert csv.manifest["outputs"]["scores"]["sha256"] == hashlib.sha256((tmp_path / "scores.csv").read_bytes()).hexdigest()

    # A re-run replaces the tables (no doubled rows) and appends one manifest row.
    score_batch(scorer, source, open_sink(url, table="lead_scores"), as_of=AS_OF, reasons="none", chunk_size=700)
    assert len(table(url, "lead_scores")) == 2_500
    assert len(table(url, "salesml_batch_manifests", order="finished_at")) == 2
    assert tables_named(url, "%staging%") == []


def test_sqlite_query_with_rejects(scorer, fresh, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    frame = fresh.head(400).astype({"visits": object})
    frame.loc[10, "visits"] = "lots"
    frame.to_sql("leads", engine, index=False)
    engine.dispose()
    source = open_source(url, query="SELECT * FROM leads WHERE region <> 'north' ORDER BY lead_id")
    result = score_batch(scorer, source, tmp_path / "s.parquet", as_of=AS_OF, reasons="none", chunk_size=50)
    kept = fresh.head(400)[fresh.head(400)["region"] != "north"]
    assert result.rows_in == len(kept)
    assert pd.read_parquet(tmp_path / "s.rejects.parquet")[["lead_id", "reason"]].values.tolist() == (
        [[fresh.at[10, "lead_id"], "not_a_number"]] if fresh.at[10, "region"] != "north" else []
    )
    assert result.manifest["input"]["query"].startswith("SELECT * FROM leads")


def test_sqlite_file_replaced_mid_job_commits_nothing(scorer, fresh, tmp_path):
    """The output database is swapped under the job (a restore from backup): the job must not report success."""
    fresh.to_parquet(tmp_path / "in.parquet", index=False)
    out = tmp_path / "out.db"
    url = f"sqlite:///{out}"
    fresh.head(100).to_parquet(tmp_path / "yesterday.parquet", index=False)
    score_batch(scorer, tmp_path / "yesterday.parquet", open_sink(url, table="lead_scores"), as_of=AS_OF, reasons="none")
    assert len(table(url, "lead_scores")) == 100  # yesterday's scores

    def restore_from_backup(progress):
        if progress.chunks == 2:
            shutil.copy(out, tmp_path / "backup.db")
            os.replace(tmp_path / "backup.db", out)

    with pytest.raises(RuntimeError, match="was deleted or replaced while the job ran; nothing was committed"):
        score_batch(scorer, tmp_path / "in.parquet", open_sink(url, table="lead_scores"), as_of=AS_OF,
                    reasons="none", chunk_size=500, on_progress=restore_from_backup)
    assert len(table(url, "lead_scores")) == 100
    assert tables_named(url, "%staging%") == []
    assert len(table(url, "salesml_batch_manifests", order="finished_at")) == 1


def test_sqlite_file_deleted_mid_job_fails(scorer, fresh, tmp_path):
    fresh.to_parquet(tmp_path / "in.parquet", index=False)
    out = tmp_path / "out.db"

    def delete(progress):
        if progress.chunks == 1:
            out.unlink()

    with pytest.raises(RuntimeError, match="out.db was deleted or replaced while the job ran"):
        score_batch(scorer, tmp_path / "in.parquet", open_sink(f"sqlite:///{out}", table="s"), as_of=AS_OF,
                    reasons="none", chunk_size=1_000, on_progress=delete)
    assert not out.exists()


# ----------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg():
    """A real PostgreSQL server (.ci/run installs and starts one); skipped only when none is reachable."""
    pytest.importorskip("psycopg", reason="psycopg is needed for PostgreSQL: pip install 'salesml[postgres]'")
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        if os.environ.get("SALESML_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"no PostgreSQL server reachable at {engine.url.render_as_string(hide_password=True)} ({type(err).__name__}); "
                    ".ci/run starts one, or set SALESML_TEST_POSTGRES_URL")
    yield engine
    engine.dispose()


def _reset(engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


def test_postgres_sql_to_sql_commits_atomically(scorer, fresh, pg):
    _reset(pg, "pg_leads", "pg_scores", "pg_scores_rejects", "salesml_batch_manifests")
    frame = fresh.astype({"visits": object})
    frame.loc[[5, 6], "visits"] = ["?", "many"]
    frame.to_sql("pg_leads", pg, index=False)
    score_batch(scorer, open_source(PG_URL, query="SELECT * FROM pg_leads WHERE lead_id < 'L0000100' ORDER BY lead_id"),
                open_sink(PG_URL, table="pg_scores"), as_of=AS_OF, reasons="none")
    yesterday = table(PG_URL, "pg_scores")
    assert len(yesterday) == 97  # 99 leads, 2 rejected

    seen_by_readers = []

    def look(progress):
        # Another session, mid-job: still yesterday's table, and no staging table in sight.
        seen_by_readers.append((len(table(PG_URL, "pg_scores")), tables_named(PG_URL, "%staging%")))

    result = score_batch(scorer, open_source(PG_URL, table="pg_leads", order_by="lead_id"), open_sink(PG_URL, table="pg_scores"),
                         as_of=AS_OF, reasons="none", chunk_size=600, on_progress=look)
    assert seen_by_readers and all(seen == (97, []) for seen in seen_by_readers)
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (2_500, 2_498, 2)
    scores = table(PG_URL, "pg_scores")
    ref = expected(scorer, fresh.drop(index=[5, 6]).sort_values("lead_id"))
    pd.testing.assert_series_equal(scores["probability"], ref["probability"])
    rejects = table(PG_URL, "pg_scores_rejects", order="row")
    assert rejects["reason"].tolist() == ["not_a_number", "not_a_number"]
    assert sorted(rejects["value"]) == ["?", "many"]
    assert len(table(PG_URL, "salesml_batch_manifests", order="finished_at")) == 2


def test_postgres_connection_killed_mid_job_commits_nothing(scorer, fresh, pg):
    _reset(pg, "pg_leads2", "pg_scores2", "pg_scores2_rejects", "salesml_batch_manifests")
    fresh.to_sql("pg_leads2", pg, index=False)
    url = f"{PG_URL}?application_name=salesml-test-victim"
    score_batch(scorer, open_source(url, query="SELECT * FROM pg_leads2 WHERE lead_id < 'L0000051' ORDER BY lead_id"),
                open_sink(url, table="pg_scores2"), as_of=AS_OF, reasons="none")
    killed = []

    def kill_the_connection(progress):
        if progress.chunks == 2:  # a DBA (or a failover) ends the job's session
            with pg.connect() as conn:
                killed.extend(conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'salesml-test-victim'"
                )).scalars())

    with pytest.raises(Exception, match="(?i)terminat|server closed the connection|consuming input failed"):
        score_batch(scorer, open_source(url, table="pg_leads2", order_by="lead_id"), open_sink(url, table="pg_scores2"),
                    as_of=AS_OF, reasons="none", chunk_size=500, on_progress=kill_the_connection)
    assert killed == [True]
    assert len(table(PG_URL, "pg_scores2")) == 50  # the previous output, untouched
    assert tables_named(PG_URL, "%staging%") == []
    assert len(table(PG_URL, "salesml_batch_manifests", order="finished_at")) == 1


def test_sql_sink_refuses_same_names(tmp_path):
    with pytest.raises(ValueError, match="The scores and rejects tables must differ"):
        SqlSink(f"sqlite:///{tmp_path / 'x.db'}", "s", rejects_table="s")


def test_cli_sql_table_to_sql_table(trained, fresh, tmp_path):
    from typer.testing import CliRunner

    from salesml.cli import app

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    fresh.iloc[::-1].head(300).to_sql("leads", engine, index=False)  # stored out of key order
    engine.dispose()
    model = trained.save(tmp_path / "model")
    res = CliRunner().invoke(app, ["score", "--model", str(model), "--input", url, "--table", "leads", "--output", url,
                                   "--output-table", "scores", "--reasons", "none", "--as-of", AS_OF])
    assert res.exit_code == 0, res.output
    assert "rows in 300 = scored 300 + rejected 0" in res.output
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT lead_id FROM scores"))]
    engine.dispose()
    assert stored == sorted(stored)  # a table is read in key order, so re-runs write the same rows in the same order


def _read(path, columns=("id", "a", "b"), chunk_size=3):
    chunks = list(CsvSource(path).chunks(chunk_size, list(columns)))
    good = pd.concat([c.frame for c in chunks])
    bad = {k: v for c in chunks for k, v in c.malformed.items()}
    keys = {k: v.get("id") for c in chunks for k, v in c.readable.items()}
    return good, bad, keys, sum(c.n_records for c in chunks)


def test_an_unclosed_quote_is_rejected_alone_and_the_records_after_it_survive(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('id,a,b\n1,2,x\n2,"3,y\n3,4,z\n4,5,w\n5,6,"fine\nvalue"\n6,7,v\n')
    good, bad, keys, n = _read(path)
    assert n == 6  # every physical record
    assert good.index.tolist() == [0, 2, 3, 4, 5]
    assert good["id"].tolist() == ["1", "3", "4", "5", "6"]
    assert good["b"].tolist() == ["x", "z", "w", "fine\nvalue", "v"]
    assert bad == {1: ("malformed_row", "line 3: a quote opened in this record is never closed")}
    assert keys == {1: "2"}  # the key is read from the damaged line


def test_campaign_of_damaged_records_loses_none(tmp_path):
    """10,000 records, 5% damaged (unclosed quotes, bad UTF-8, missing / extra fields, stray quotes):
    every good record is read, every damaged one rejected alone with its key."""
    rng = np.random.default_rng(1)
    n = 10_000
    damaged = set(rng.choice(n, 500, replace=False).tolist())
    out, expected_bad, expected_good = [b"id,a,b\n"], {}, []
    for i in range(n):
        kind = i % 5 if i in damaged else None
        if kind == 0:
            out.append(f'K{i},"unclosed {i},x\n'.encode())
        elif kind == 1:
            out.append(f"K{i},caf\xe9,x\n".encode("latin-1"))
        elif kind == 2:
            out.append(f"K{i},only-two\n".encode())
        elif kind == 3:
            out.append(f"K{i},1,2,3\n".encode())
        elif kind == 4:  # a quote inside an unquoted value is just a character
            out.append(f'K{i},5" screen,x\n'.encode())
            expected_good.append(f"K{i}")
            continue
        else:
            note = f'"multi\nline, {i}"' if i % 97 == 0 else str(i)
            out.append(f"K{i},{i},{note}\n".encode())
            expected_good.append(f"K{i}")
            continue
        expected_bad[f"K{i}"] = "bad_encoding" if kind == 1 else "malformed_row"
    path = tmp_path / "damaged.csv"
    path.write_bytes(b"".join(out))
    good, bad, keys, total = _read(path, chunk_size=1_000)
    assert total == n
    assert good["id"].tolist() == expected_good
    assert {keys[p]: reason for p, (reason, _) in bad.items()} == expected_bad


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("id,a,b\n1,2,3\n".encode("utf-16"), "is UTF-16 text; salesml reads UTF-8 CSV"),
        (b"id;a;b\n1;2;3\n", "seems to use ';' as its delimiter"),
        (b"id\ta\tb\n1\t2\t3\n", "seems to use tab as its delimiter"),
        (b"PAR1\x00\x01binary", "looks like a Parquet file"),
        (bytes(range(256)) * 4, "holds binary data"),
        ("n\xe4me,a\n1,2\n".encode("latin-1"), "header is not UTF-8 text"),
    ],
)
def test_wrong_encodings_delimiters_and_binary_files_get_a_hint(tmp_path, data, message):
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        CsvSource(path).columns()
