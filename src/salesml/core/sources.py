"""Reading and writing tables: CSV, Parquet (file or folder) and SQL.

Writes are atomic: the data goes to a temporary file beside the target, is
flushed to disk, then renamed over it, so readers see the old file or the new
one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["read_table", "write_table_atomic", "load_tables"]


def read_table(source: str | Path | Mapping[str, str]) -> pd.DataFrame:
    """A whole table from a CSV/Parquet path or ``{"url": SQLAlchemy URL, "query": SQL}``."""
    if isinstance(source, Mapping) or hasattr(source, "url"):
        url = source["url"] if isinstance(source, Mapping) else source.url
        query = source["query"] if isinstance(source, Mapping) else source.query
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return pd.read_sql(text(query), conn)
        finally:
            engine.dispose()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"Input {path} does not exist.")
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt") or path.name.lower().endswith(".csv.gz"):
        return pd.read_csv(path, low_memory=False)
    raise ValueError(f"Cannot tell the format of {path}: use a .csv or .parquet file (or a folder of Parquet files).")


def write_table_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV or Parquet (by suffix) via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"Output {path} must end in .csv or .parquet.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the mode any new file would
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_tables(data, task) -> dict[str, pd.DataFrame]:
    """The tables a task needs: from the built-in generator or the configured sources."""
    needed = task.tables
    if data.builtin:
        from salesml.datasets import SIZES, make_crm

        return task.builtin_tables(make_crm(data.n_leads or SIZES[data.size], random_state=data.seed))
    missing = task.missing_tables(data.tables)
    if missing:
        raise ValueError(
            f"The experiment's data.tables lacks {', '.join(missing)}; this task needs {', '.join(needed)}. "
            f"Add e.g. `{missing[0]}: data/raw/{missing[0]}.csv`."
        )
    wanted = [t for t in (*needed, *task.optional_tables) if t in data.tables]
    return {name: read_table(data.tables[name]) for name in wanted}
