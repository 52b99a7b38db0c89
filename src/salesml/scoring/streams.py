"""Tables read in chunks and written atomically: the I/O of batch scoring.

Sources yield :class:`Chunk` objects whose frame index is each record's
0-based position in the input, so every record can be named in a rejects
output, including records the parser could not split into columns:

* :class:`CsvSource` - a UTF-8 CSV file, split into records with :mod:`csv`.
  A record that cannot be read (wrong number of fields, a quote never closed,
  not UTF-8) is rejected alone, with its physical line and key, and reading
  resumes at the next line: nothing is dropped, padded or swallowed. A last
  record cut short is ``truncated_row``.
* :class:`ParquetSource` - a Parquet file or a folder of them (sorted by
  path), read batch by batch with ``pre_buffer=False`` (it holds about half
  the memory of pyarrow's default) and only the columns the model needs.
* :class:`SqlSource` - a query or table through SQLAlchemy, fetched in chunks
  (server-side cursors where the driver has them).

Sinks write the scores and the rejects as the job goes and publish them only
when asked, all at once:

* :class:`FileSink` - CSV or Parquet files and the manifest written into a
  fresh run folder, fsynced, then made visible together by renaming ONE
  symbolic link (the output paths are links through it). Killing the job
  leaves the old run or the new one, never a mix; a lock refuses a second job
  on the same output.
* :class:`SqlSink` - staging tables created, filled and swapped in for the
  targets inside ONE transaction, with the manifest row; readers see the old
  tables or the new ones, and a connection lost mid-job commits nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from salesml.tracking.artifact import file_sha256

logger = logging.getLogger(__name__)

__all__ = [
    "Chunk",
    "Source",
    "Sink",
    "CsvSource",
    "ParquetSource",
    "SqlSource",
    "FileSink",
    "OutputLocked",
    "SqlSink",
    "OutputInfo",
    "open_source",
    "open_sink",
    "is_sql_url",
]

FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SQL_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_sql_url(location: str | Path) -> bool:
    """Whether ``location`` is a SQLAlchemy URL (``sqlite:///crm.db``, ``postgresql+psycopg://...``)."""
    return isinstance(location, str) and bool(_SQL_URL.match(location)) and not location.startswith("file://")


def _missing_columns_error(missing: Sequence[str], where: str) -> Exception:
    from salesml.core.features import MissingColumnsError

    err = MissingColumnsError(missing)
    err.args = (f"{where}: {err.args[0]}",)
    return err


# --------------------------------------------------------------------- sources
@dataclass
class Chunk:
    """Records read from a source.

    ``frame`` holds the well-formed records, indexed by their 0-based position in
    the input; ``malformed`` maps the positions of records that could not be read
    as rows to ``(reason code, detail)``.
    """

    frame: pd.DataFrame
    malformed: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: For malformed records: the fields that could still be read (by column), e.g. the key.
    readable: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def n_records(self) -> int:
        return len(self.frame) + len(self.malformed)


class Source(Protocol):
    """Where records come from."""

    kind: str

    def describe(self) -> dict[str, Any]: ...
    def columns(self) -> list[str]: ...
    def total_rows(self) -> int | None: ...
    def chunks(self, chunk_size: int, columns: Sequence[str]) -> Iterator[Chunk]: ...
    def fingerprint(self) -> str: ...


#: Values read as missing (pyarrow's defaults, so CSV and Parquet inputs agree).
CSV_NULLS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "N/A", "NA", "NULL",
     "NaN", "n/a", "nan", "null"]
)
#: Physical lines one quoted value may span; beyond, its opening quote is taken to be a stray one.
MAX_RECORD_LINES = 200
_UTF8_HINT = "re-export the file as UTF-8 (Excel: 'CSV UTF-8'), or convert it: iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv"


class _TooLong(Exception):
    """A record has run over :data:`MAX_RECORD_LINES` lines: an opening quote that is never closed."""


class _Lines:
    """Physical lines of a CSV file as text for :mod:`csv`, remembering those of the record being read.

    Lines can be pushed back, so a record that turns out malformed (an unclosed
    quote swallowing the lines after it) is rejected alone and the lines after
    it are read again as records of their own.
    """

    def __init__(self, fh: Any):
        self.fh = fh
        self.lineno = 0
        self.pending: list[tuple[int, str, bool, bool]] = []  # pushed back, in reverse order
        self.taken: list[tuple[int, str, bool, bool]] = []  # (line number, text, valid UTF-8, ends with newline)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES:
            raise _TooLong
        if self.pending:
            item = self.pending.pop()
        else:
            raw = self.fh.readline()
            if not raw:
                raise StopIteration
            self.lineno += 1
            try:
                text, valid = raw.decode("utf-8"), True
            except UnicodeDecodeError:
                text, valid = raw.decode("utf-8", "replace"), False
            item = (self.lineno, text, valid, raw.endswith(b"\n"))
        self.taken.append(item)
        return item[1]

    def start_record(self) -> None:
        self.taken = []

    def push_back_all_but_first(self) -> None:
        self.pending.extend(reversed(self.taken[1:]))
        self.taken = self.taken[:1]


class CsvSource:
    """A CSV file (UTF-8, comma-separated) read as text in chunks; every physical record is accounted for.

    Every column arrives as text (missing: empty, ``NA``, ``null``...) so a
    column's type cannot change from one chunk to the next; the model's encoder
    parses numbers, booleans and dates and reports what it cannot read.

    Records are split with :mod:`csv` (quoted values may hold commas, quotes and
    newlines). A record that cannot be read is rejected alone and reading goes
    on with the next physical line, so one stray quote never swallows the
    records after it: ``malformed_row`` (wrong number of fields, a quote never
    closed, bad quoting), ``bad_encoding`` (not UTF-8) and ``truncated_row``
    (the file ends inside the record). The reject's detail names the physical
    line, and the key is kept when it can be read. A last line without a final
    newline is a record like any other when its fields are all there.
    UTF-16, binary files and other delimiters are refused up front with a hint.
    """

    kind = "csv"

    def __init__(self, path: str | Path, *, block_size: int = 1 << 20):
        self.path = Path(path)
        self.block_size = block_size

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": str(self.path)}

    def _check(self) -> None:
        if not self.path.is_file():
            raise FileNotFoundError(f"Input {self.path} does not exist.")

    def _sniff(self) -> None:
        """Refuse, with a hint, files that are not UTF-8 comma-separated text."""
        with self.path.open("rb") as fh:
            head = fh.read(1 << 16)
        if not head:
            raise ValueError(f"Input {self.path} is empty: not even a header line. Check the export that wrote it.")
        even, odd = head[0::2], head[1::2]
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
            len(head) >= 8 and (even.count(0) > 0.3 * len(even) or odd.count(0) > 0.3 * len(odd)) and head.count(0) < 0.7 * len(head)
        ):
            raise ValueError(
                f"Input {self.path} is UTF-16 text; salesml reads UTF-8 CSV. Re-export it as 'CSV UTF-8', or convert "
                "it: iconv -f UTF-16 -t UTF-8 in.csv > out.csv"
            )
        magic = {b"PAR1": "a Parquet file (name it .parquet)", b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook",
                 b"\x1f\x8b": "a gzip-compressed file (decompress it first)", b"\xd0\xcf\x11\xe0": "an Excel .xls workbook"}
        for prefix, what in magic.items():
            if head.startswith(prefix):
                raise ValueError(f"Input {self.path} is not CSV text: it looks like {what}. Export the data as CSV (UTF-8).")
        if b"\x00" in head:
            raise ValueError(f"Input {self.path} is not CSV text: it holds binary data (NUL bytes). Export the data as CSV (UTF-8).")

    def _header(self, lines: _Lines) -> list[str]:
        import csv

        lines.start_record()
        try:
            fields = next(csv.reader(lines, strict=True))
        except (StopIteration, csv.Error, _TooLong):
            fields = []
        if not fields:
            raise ValueError(f"Input {self.path} has no readable header line. Check the export that wrote it.")
        if not lines.taken[0][2]:
            raise ValueError(f"Input {self.path}: its header is not UTF-8 text (Latin-1 / Windows-1252?); {_UTF8_HINT}.")
        fields[0] = fields[0].lstrip("\ufeff")  # Excel's UTF-8 byte-order mark
        if len(fields) == 1:
            for sep in (";", "\t", "|"):
                if fields[0].count(sep) >= 1:
                    shown = "tab" if sep == "\t" else repr(sep)
                    raise ValueError(
                        f"Input {self.path} seems to use {shown} as its delimiter (its header reads as one column: "
                        f"{fields[0][:60]!r}). salesml reads comma-separated files: export with commas "
                        "(Excel: 'CSV UTF-8 (comma delimited)')."
                    )
        return fields

    def columns(self) -> list[str]:
        self._check()
        self._sniff()
        with self.path.open("rb") as fh:
            return self._header(_Lines(fh))

    def total_rows(self) -> int | None:
        return None

    def fingerprint(self) -> str:
        return f"sha256:{file_sha256(self.path)}"

    def chunks(self, chunk_size: int, columns: Sequence[str]) -> Iterator[Chunk]:
        header = self.columns()
        missing = [c for c in columns if c not in header]
        if missing:
            raise _missing_columns_error(missing, str(self.path))
        yield from self._records(header, columns, chunk_size)

    def _records(self, header: list[str], columns: Sequence[str], chunk_size: int) -> Iterator[Chunk]:
        import csv

        width = len(header)
        where = [header.index(c) for c in columns]
        rows: list[list[Any]] = []
        positions: list[int] = []
        bad: dict[int, tuple[str, str]] = {}
        readable: dict[int, dict[str, str]] = {}
        position = 0

        def reject(reason: str, detail: str, line: tuple[int, str, bool, bool]) -> None:
            nonlocal position
            bad[position] = (reason, f"line {line[0]}: {detail}")
            fields = _leading_fields(line[1])
            readable[position] = {header[i]: fields[i] for i in range(min(len(fields), width)) if fields[i] not in CSV_NULLS}
            position += 1

        def flush() -> Chunk:
            nonlocal rows, positions, bad, readable
            frame = pd.DataFrame(rows, columns=list(columns), index=pd.Index(positions, dtype=np.int64), dtype=object)
            chunk = Chunk(frame, bad, readable)
            rows, positions, bad, readable = [], [], {}, {}
            return chunk

        with self.path.open("rb", buffering=self.block_size) as fh:
            lines = _Lines(fh)
            self._header(lines)
            reader = csv.reader(lines, strict=True)
            while True:
                lines.start_record()
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except (csv.Error, _TooLong) as err:
                    first = lines.taken[0]
                    at_end = len(lines.taken) == 1 and not lines.pending and "unexpected end of data" in str(err)
                    if at_end:
                        reject("truncated_row", "the file ends inside this record (a quoted value is never closed)", first)
                    elif isinstance(err, _TooLong) or "unexpected end of data" in str(err) or len(lines.taken) > 1:
                        reject("malformed_row", "a quote opened in this record is never closed", first)
                    else:
                        reject("malformed_row", f"bad quoting ({err})", first)
                    lines.push_back_all_but_first()
                    reader = csv.reader(lines, strict=True)
                    continue
                if not fields:
                    continue  # a blank line is not a record
                taken = lines.taken
                if len(fields) != width:
                    first = taken[0]
                    last_line = not taken[-1][3] and not lines.pending
                    if len(taken) == 1 and last_line:
                        reject("truncated_row", f"the file ends inside this record: {len(fields)} fields where the header has {width}", first)
                    elif len(taken) > 1:
                        reject("malformed_row", "a quote opened in this record is never closed", first)
                        lines.push_back_all_but_first()
                        reader = csv.reader(lines, strict=True)
                    else:
                        reject("malformed_row", f"{len(fields)} fields where the header has {width}", first)
                elif not all(line[2] for line in taken):
                    reject("bad_encoding", f"not UTF-8 text; {_UTF8_HINT}", next(line for line in taken if not line[2]))
                else:
                    rows.append([None if (v := fields[i]) in CSV_NULLS else v for i in where])
                    positions.append(position)
                    position += 1
                if len(rows) >= chunk_size:
                    yield flush()
        if rows or bad or position == 0:
            yield flush()


def _leading_fields(line: str) -> list[str]:
    """The fields of one physical line that come before any quote (those can be trusted, e.g. the key)."""
    cut = line.find('"')
    head = line if cut < 0 else line[:cut]
    fields = head.rstrip("\r\n").split(",")
    return fields if cut < 0 else fields[:-1]


class ParquetSource:
    """A Parquet file, or a folder of Parquet files read in path order."""

    kind = "parquet"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": str(self.path), "files": len(self.files())}

    def files(self) -> list[Path]:
        if not self.path.exists():
            raise FileNotFoundError(f"Input {self.path} does not exist.")
        if self.path.is_file():
            return [self.path]
        found = sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in (".parquet", ".pq")
            and not any(part.startswith((".", "_")) for part in p.relative_to(self.path).parts)
        )
        if not found:
            raise FileNotFoundError(f"The folder {self.path} holds no .parquet files.")
        return found

    def _open(self, path: Path):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path, pre_buffer=False)
        except Exception as err:  # pyarrow raises ArrowInvalid / OSError for damaged files
            raise ValueError(
                f"Cannot read {path} as Parquet ({err}). The file may be truncated or still being written; "
                "re-export it."
            ) from err

    def columns(self) -> list[str]:
        names: list[str] | None = None
        for path in self.files():
            schema = self._open(path).schema_arrow.names
            names = list(schema) if names is None else [n for n in names if n in schema]
        return names or []

    def total_rows(self) -> int | None:
        return sum(self._open(p).metadata.num_rows for p in self.files())

    def fingerprint(self) -> str:
        files = self.files()
        if len(files) == 1 and self.path.is_file():
            return f"sha256:{file_sha256(files[0])}"
        h = hashlib.sha256()
        for p in files:
            h.update(f"{p.relative_to(self.path).as_posix()}\0{file_sha256(p)}\n".encode())
        return f"sha256:{h.hexdigest()}"

    def chunks(self, chunk_size: int, columns: Sequence[str]) -> Iterator[Chunk]:
        files = self.files()
        for path in files:
            names = self._open(path).schema_arrow.names
            missing = [c for c in columns if c not in names]
            if missing:
                raise _missing_columns_error(missing, str(path))
        position = 0
        for path in files:
            pf = self._open(path)
            for batch in pf.iter_batches(batch_size=chunk_size, columns=list(columns), use_threads=False):
                frame = batch.to_pandas()
                frame.index = pd.RangeIndex(position, position + len(frame))
                position += len(frame)
                yield Chunk(frame)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _quote(dialect: Any, name: str) -> str:
    """A table name, optionally schema-qualified (``schema.table``), quoted for the dialect."""
    prep = dialect.identifier_preparer
    return ".".join(prep.quote(part) for part in name.split("."))


def _engine(url: str):
    """A SQLAlchemy engine; SQLite gets real transactions around DDL (pysqlite defers BEGIN otherwise)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "application_name" not in parsed.query:
        kwargs["connect_args"] = {"application_name": "salesml-batch"}  # visible to DBAs in pg_stat_activity
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_implicit(dbapi_connection, _record):  # pragma: no cover - trivial
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN")

    return engine


class SqlSource:
    """Rows of a query, or of a whole table (ordered by ``order_by`` for reproducible output)."""

    kind = "sql"

    def __init__(self, url: str, *, query: str | None = None, table: str | None = None, order_by: str | None = None):
        if (query is None) == (table is None):
            raise ValueError("A SQL input needs exactly one of query= (a SELECT) or table= (a table name).")
        self.url = url
        self.query = query.strip().rstrip(";").strip() if query else None  # it is wrapped in a probe
        self.table = table
        self.order_by = order_by
        #: Set by the batch job when it writes to the same database: read inside its transaction.
        self.connection: Any = None
        self._hash = hashlib.sha256()
        self._columns: list[str] | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "location": _hide_password(self.url)}
        out["query" if self.query else "table"] = self.query or self.table
        return out

    def _sql(self, dialect: Any, columns: Sequence[str] | None) -> str:
        if self.query is not None:
            return self.query  # as written: wrapping it could lose its ORDER BY
        cols = "*" if columns is None else ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
        order = f" ORDER BY {dialect.identifier_preparer.quote(self.order_by)}" if self.order_by else ""
        return f"SELECT {cols} FROM {_quote(dialect, str(self.table))}{order}"

    def _run(self, fn):
        if self.connection is not None:
            return fn(self.connection)
        engine = _engine(self.url)
        try:
            with engine.connect() as conn:
                return fn(conn)
        finally:
            engine.dispose()

    def columns(self) -> list[str]:
        from sqlalchemy import text

        if self._columns is None:
            def probe(conn):
                sql = self._sql(conn.dialect, None)
                result = conn.execute(text(f"SELECT * FROM ({sql}) AS salesml_probe WHERE 1 = 0"))
                names = list(result.keys())
                result.close()
                return names

            self._columns = self._run(probe)
        return self._columns

    def total_rows(self) -> int | None:
        return None

    def fingerprint(self) -> str:
        """sha256 of the rows read (available once every chunk was read) and the SQL."""
        h = self._hash.copy()
        h.update((self.query or f"table {self.table}").encode())
        return f"sha256:{h.hexdigest()}"

    def chunks(self, chunk_size: int, columns: Sequence[str]) -> Iterator[Chunk]:
        from sqlalchemy import text

        names = self.columns()
        missing = [c for c in columns if c not in names]
        if missing:
            raise _missing_columns_error(missing, self.table or "the query")
        engine = None
        conn = self.connection
        if conn is None:
            engine = _engine(self.url)
            conn = engine.connect()
        try:
            statement = text(self._sql(conn.dialect, list(columns))).execution_options(
                stream_results=True, max_row_buffer=chunk_size
            )
            result = conn.execute(statement)
            keys = list(result.keys())
            position = 0
            while True:
                rows = result.fetchmany(chunk_size)
                if not rows:
                    break
                frame = pd.DataFrame.from_records(rows, columns=keys, coerce_float=True)[list(columns)]
                frame.index = pd.RangeIndex(position, position + len(frame))
                position += len(frame)
                self._hash.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
                yield Chunk(frame)
            result.close()
        finally:
            if engine is not None:
                conn.close()
                engine.dispose()


def open_source(location: str | Path | Source, *, query: str | None = None, table: str | None = None, order_by: str | None = None) -> Source:
    """A source from a path (.csv, .parquet, a folder of Parquet) or a SQLAlchemy URL plus query/table."""
    if not isinstance(location, (str, Path)):
        return location
    if is_sql_url(str(location)):
        return SqlSource(str(location), query=query, table=table, order_by=order_by)
    if query or table:
        raise ValueError(f"--query/--table apply to SQL inputs; {location} is a file path, not a SQLAlchemy URL.")
    path = Path(location)
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return ParquetSource(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return CsvSource(path)
    raise ValueError(f"Cannot tell the format of {path}: use a .csv or .parquet file, a folder of Parquet files or a SQLAlchemy URL.")


# ----------------------------------------------------------------------- sinks
@dataclass(frozen=True)
class OutputInfo:
    """One published output: where, how many rows, and the sha256 of its content."""

    location: str
    format: str
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "format": self.format, "rows": self.rows, "sha256": self.sha256}


class Sink(Protocol):
    """Where the scores and the rejects go; nothing is visible before :meth:`publish`."""

    def open(self, schemas: Mapping[str, Any]) -> None: ...
    def write(self, part: str, frame: pd.DataFrame) -> None: ...
    def finish(self) -> dict[str, OutputInfo]: ...
    def publish(self, manifest: Mapping[str, Any]) -> None: ...
    def abort(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...


def _table(frame: pd.DataFrame, schema: Any):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=header, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OutputLocked(RuntimeError):
    """Another job is writing the same output; refused rather than letting the last writer win silently."""


class FileSink:
    """Scores, rejects and a JSON manifest as files, published together by ONE rename.

    Each run is written into its own folder of a hidden store beside the scores
    file (``.<scores name>.salesml/runs/<run>/``). Publishing renames one
    symbolic link, ``current``, to the new run; the paths the user asked for
    (``scores.parquet``, ``scores.rejects.parquet``, ``scores.manifest.json``)
    are links through ``current``, so the three files switch from one run to
    the next at the same instant, whatever the moment a job is killed. A reader
    that opens them during a switch can still pair two runs; :func:`verify_outputs`
    resolves ``current`` once and reads one run. The previous run is kept (a
    reader may still have it open), older ones are deleted.

    While it writes, a job holds an exclusive lock on the store (``flock``):
    a second job on the same output fails at once with :class:`OutputLocked`.

    Parameters
    ----------
    scores : the scores file (``.csv`` or ``.parquet``).
    rejects : the rejects file; default ``<scores stem>.rejects<suffix>`` beside it.
    manifest : the manifest; default ``<scores stem>.manifest.json`` beside it.
    """

    def __init__(self, scores: str | Path, *, rejects: str | Path | None = None, manifest: str | Path | None = None):
        self.paths: dict[str, Path] = {"scores": Path(scores)}
        suffix = self.paths["scores"].suffix.lower()
        if suffix not in FILE_FORMATS:
            raise ValueError(f"Output {scores} must end in .csv or .parquet.")
        stem = self.paths["scores"].with_suffix("")
        self.paths["rejects"] = Path(rejects) if rejects else Path(f"{stem}.rejects{self.paths['scores'].suffix}")
        self.manifest_path = Path(manifest) if manifest else Path(f"{stem}.manifest.json")
        for part, path in self.paths.items():
            if path.suffix.lower() not in FILE_FORMATS:
                raise ValueError(f"The {part} output {path} must end in .csv or .parquet.")
        targets = [p.resolve() for p in (*self.paths.values(), self.manifest_path)]
        if len(set(targets)) != len(targets):
            raise ValueError(f"The scores, rejects and manifest outputs must be different files. Got {[str(p) for p in targets]}.")
        names = [p.name for p in (*self.paths.values(), self.manifest_path)]
        if len(set(names)) != len(names):
            raise ValueError(f"The scores, rejects and manifest outputs need different file names (one run keeps them side by side). Got {names}.")
        self.store = self.paths["scores"].parent / f".{self.paths['scores'].name}.salesml"
        self._run: Path | None = None
        self._lock: Any = None
        self._writers: dict[str, Any] = {}
        self._handles: dict[str, Any] = {}
        self._hashes: dict[str, Any] = {}
        self._rows: dict[str, int] = {}
        self._schemas: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": "files", "scores": str(self.paths["scores"]), "rejects": str(self.paths["rejects"]), "manifest": str(self.manifest_path)}

    # ------------------------------------------------------------ locking
    def _acquire(self) -> None:
        import fcntl

        created = not self.store.exists()
        self.store.mkdir(parents=True, exist_ok=True)
        while True:
            fh = open(self.store / "lock", "a+")  # noqa: SIM115 - held open for the whole job
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise OutputLocked(
                    f"Another salesml job ({holder}) is writing {self.paths['scores']}; two jobs must not write one "
                    "output (the last one would silently replace the other). Wait for it to finish, or write elsewhere."
                ) from None
            try:  # the store may have been removed (and re-created) by a job that just failed: lock the live file
                same = os.stat(self.store / "lock").st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
            self.store.mkdir(parents=True, exist_ok=True)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {pd.Timestamp.now(tz='UTC').isoformat(timespec='seconds')}\n")
        fh.flush()
        self._lock = fh
        self._created_store = created

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def _current(self) -> str | None:
        try:
            return os.readlink(self.store / "current")
        except (FileNotFoundError, OSError):
            return None

    def _remove_stale_runs(self, keep: set[str]) -> None:
        """Runs neither current nor previous, and folders of killed jobs (we hold the lock: nobody else writes)."""
        runs = self.store / "runs"
        if not runs.is_dir():
            return
        for d in runs.iterdir():
            if f"runs/{d.name}" not in keep:
                logger.info("removing %s (an old run, or one left by a job that was killed)", d)
                shutil.rmtree(d, ignore_errors=True)

    # ------------------------------------------------------------ writing
    def open(self, schemas: Mapping[str, Any]) -> None:
        import pyarrow.parquet as pq

        self._schemas = dict(schemas)
        for target in (*self.paths.values(), self.manifest_path):
            target.parent.mkdir(parents=True, exist_ok=True)
        self._acquire()
        current = self._current()
        self._remove_stale_runs({current, self._previous()} - {None})
        (self.store / "runs").mkdir(exist_ok=True)
        self._run = self.store / "runs" / f".partial-{os.getpid()}-{secrets.token_hex(4)}"
        self._run.mkdir()
        for part, target in self.paths.items():
            tmp = self._run / target.name
            self._rows[part] = 0
            if FILE_FORMATS[target.suffix.lower()] == "parquet":
                self._writers[part] = pq.ParquetWriter(tmp, schemas[part])
            else:
                self._handles[part] = tmp.open("wb")
                self._hashes[part] = hashlib.sha256()
                header = _csv_bytes(pd.DataFrame({n: [] for n in schemas[part].names}), header=True)
                self._handles[part].write(header)
                self._hashes[part].update(header)

    def _previous(self) -> str | None:
        try:
            return (self.store / "previous").read_text("utf-8").strip() or None
        except FileNotFoundError:
            return None

    def write(self, part: str, frame: pd.DataFrame) -> None:
        if len(frame) == 0:
            return
        if part in self._writers:
            self._writers[part].write_table(_table(frame, self._schemas[part]))
        else:
            data = _csv_bytes(frame[self._schemas[part].names], header=False)
            self._handles[part].write(data)
            self._hashes[part].update(data)
        self._rows[part] += len(frame)

    def finish(self) -> dict[str, OutputInfo]:
        assert self._run is not None
        out: dict[str, OutputInfo] = {}
        for part, target in self.paths.items():
            tmp = self._run / target.name
            if part in self._writers:
                self._writers.pop(part).close()
                digest = file_sha256(tmp)
            else:
                fh = self._handles.pop(part)
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                digest = self._hashes[part].hexdigest()
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            location = os.path.relpath(target.resolve(), self.manifest_path.resolve().parent)
            out[part] = OutputInfo(Path(location).as_posix(), FILE_FORMATS[target.suffix.lower()], self._rows[part], digest)
        return out

    def publish(self, manifest: Mapping[str, Any]) -> None:
        assert self._run is not None
        with (self._run / self.manifest_path.name).open("wb") as fh:
            fh.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self._run)
        run_id = f"{pd.Timestamp.now(tz='UTC').strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"
        final = self.store / "runs" / run_id
        os.rename(self._run, final)  # still invisible: `current` points elsewhere
        self._run = None
        _fsync_dir(self.store / "runs")
        previous = self._current()
        if previous is not None:
            _write_atomic(self.store / "previous", previous.encode("utf-8"))
        # THE publish step: one atomic rename switches scores, rejects and manifest together.
        _symlink_atomic(f"runs/{run_id}", self.store / "current")
        _fsync_dir(self.store)
        for target in (*self.paths.values(), self.manifest_path):  # stable links through `current`
            link = os.path.relpath(self.store.resolve() / "current" / target.name, target.parent.resolve())
            if not (target.is_symlink() and os.readlink(target) == link):
                _symlink_atomic(link, target)  # only on a first run (or over files of an older salesml)
                _fsync_dir(target.parent)
        self._remove_stale_runs({f"runs/{run_id}", previous} - {None})
        self._release()

    def abort(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # pragma: no cover - closing a half-written file may fail; it is deleted anyway
                pass
        for fh in self._handles.values():
            fh.close()
        self._writers.clear()
        self._handles.clear()
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)
            self._run = None
        if self._lock is not None and self._current() is None:  # nothing was ever published here: leave no trace
            shutil.rmtree(self.store, ignore_errors=True)
        self._release()


def _symlink_atomic(target: str, link: Path) -> None:
    """Make ``link`` a symbolic link to ``target`` in one rename (readers see the old link or the new one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{secrets.token_hex(4)}.link")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sql_type(arrow_type: Any):
    import pyarrow as pa
    from sqlalchemy import BigInteger, Boolean, DateTime, Float, Text

    if pa.types.is_boolean(arrow_type):
        return Boolean()
    if pa.types.is_integer(arrow_type):
        return BigInteger()
    if pa.types.is_floating(arrow_type):
        return Float(precision=53)
    if pa.types.is_timestamp(arrow_type):
        return DateTime()
    return Text()


class SqlSink:
    """Scores and rejects as database tables, swapped in atomically with a manifest row.

    The whole job runs in one transaction on one connection: staging tables
    are created and filled, then the targets are dropped, the staging tables
    renamed to the targets' names and the manifest appended to
    ``manifest_table``, and only then is the transaction committed. If the job
    fails, is killed or loses its connection, the database rolls everything
    back: readers keep seeing the previous tables.

    For SQLite, the database file is checked before the commit: if it was
    deleted or replaced during the job, the job fails instead of committing
    into a file nobody will read.
    """

    def __init__(
        self,
        url: str,
        table: str,
        *,
        rejects_table: str | None = None,
        manifest_table: str = "salesml_batch_manifests",
        manifest_file: str | Path | None = None,
    ):
        if not table:
            raise ValueError("A SQL output needs a table name (--output-table).")
        self.url = url
        self.tables = {"scores": table, "rejects": rejects_table or f"{table}_rejects"}
        self.manifest_table = manifest_table
        self.manifest_file = Path(manifest_file) if manifest_file else None
        if len(set(self.tables.values())) != 2:
            raise ValueError(f"The scores and rejects tables must differ. Got {self.tables}.")
        self.connection: Any = None
        self._engine: Any = None
        self._transaction: Any = None
        self._staging: dict[str, Any] = {}
        self._rows: dict[str, int] = {}
        self._hashes: dict[str, Any] = {}
        self._columns: dict[str, list[str]] = {}
        self._sqlite_file: tuple[str, int, int] | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "sql", "location": _hide_password(self.url), **{f"{k}_table": v for k, v in self.tables.items()}}

    def open(self, schemas: Mapping[str, Any]) -> None:
        from sqlalchemy import Column, MetaData, Table

        self._engine = _engine(self.url)
        self.connection = self._engine.connect()
        if self._engine.dialect.name == "sqlite" and self._engine.url.database not in (None, "", ":memory:"):
            st = os.stat(self._engine.url.database)
            self._sqlite_file = (self._engine.url.database, st.st_dev, st.st_ino)
        self._transaction = self.connection.begin()
        meta = MetaData()
        token = secrets.token_hex(4)
        for part, target in self.tables.items():
            schema_name, _, name = target.rpartition(".")
            stage = Table(
                f"{name}__salesml_staging_{token}",
                meta,
                *[Column(f.name, _sql_type(f.type)) for f in schemas[part]],
                schema=schema_name or None,
            )
            stage.create(self.connection)
            self._staging[part] = stage
            self._columns[part] = list(schemas[part].names)
            self._rows[part] = 0
            self._hashes[part] = hashlib.sha256(_csv_bytes(pd.DataFrame({n: [] for n in schemas[part].names}), header=True))

    def write(self, part: str, frame: pd.DataFrame) -> None:
        if len(frame) == 0:
            return
        frame = frame[self._columns[part]]
        self._hashes[part].update(_csv_bytes(frame, header=False))
        values = frame.astype(object).where(frame.notna(), None)
        self.connection.execute(self._staging[part].insert(), values.to_dict("records"))
        self._rows[part] += len(frame)

    def finish(self) -> dict[str, OutputInfo]:
        where = _hide_password(self.url)
        return {
            part: OutputInfo(f"{where}#{table}", "sql table", self._rows[part], self._hashes[part].hexdigest())
            for part, table in self.tables.items()
        }

    def publish(self, manifest: Mapping[str, Any]) -> None:
        from sqlalchemy import Column, MetaData, Table, Text, inspect

        conn = self.connection
        dialect = conn.dialect
        for part, target in self.tables.items():
            schema_name, _, name = target.rpartition(".")
            if inspect(conn).has_table(name, schema=schema_name or None):
                conn.exec_driver_sql(f"DROP TABLE {_quote(dialect, target)}")
            stage = self._staging[part]
            staged = f"{schema_name}.{stage.name}" if schema_name else stage.name
            conn.exec_driver_sql(f"ALTER TABLE {_quote(dialect, staged)} RENAME TO {dialect.identifier_preparer.quote(name)}")
        runs = Table(
            self.manifest_table,
            MetaData(),
            Column("output_table", Text),
            Column("finished_at", Text),
            Column("manifest", Text),
        )
        runs.create(conn, checkfirst=True)
        text = json.dumps(manifest, indent=2, sort_keys=True)
        conn.execute(
            runs.insert(),
            [{"output_table": self.tables["scores"], "finished_at": manifest.get("run", {}).get("finished_at"), "manifest": text}],
        )
        if self._sqlite_file is not None:
            path, dev, ino = self._sqlite_file
            try:
                st = os.stat(path)
                same = (st.st_dev, st.st_ino) == (dev, ino)
            except FileNotFoundError:
                same = False
            if not same:
                raise RuntimeError(
                    f"The SQLite database {path} was deleted or replaced while the job ran; nothing was committed "
                    "(the changes would have gone to a file that no longer exists). Run the job again."
                )
        self._transaction.commit()
        self._transaction = None
        self._close()
        if self.manifest_file is not None:  # a copy for file-based monitoring; the table row is the record
            _write_atomic(self.manifest_file, (text + "\n").encode("utf-8"))

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def abort(self) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        except Exception as err:  # the connection may be gone already: the server rolled back
            logger.info("rollback after failure raised %s (the database discards the transaction anyway)", err)
        finally:
            self._transaction = None
            try:
                self._close()
            except Exception:  # pragma: no cover - a dead connection may fail to close
                pass


def open_sink(
    location: str | Path | Sink,
    *,
    table: str | None = None,
    rejects: str | None = None,
    manifest: str | Path | None = None,
) -> Sink:
    """A sink from a file path (.csv/.parquet) or a SQLAlchemy URL plus a table name."""
    if not isinstance(location, (str, Path)):
        return location
    if is_sql_url(str(location)):
        if not table:
            raise ValueError(f"The output {_hide_password(str(location))} is a database: name the table to write (--output-table).")
        return SqlSink(str(location), table, rejects_table=rejects, manifest_file=manifest)
    if table:
        raise ValueError(f"--output-table applies to SQL outputs; {location} is a file path.")
    return FileSink(location, rejects=rejects, manifest=manifest)
