"""Derived series (hourly/daily AQI, daily flow, forecasts) in DuckDB: one table each."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import pandas as pd

from ._port import IDENT, to_utc
from .errors import QueryError, QueryTooLarge


def check_measurement(measurement: str, frame: pd.DataFrame | None, tags: Sequence[str]) -> None:
    if not IDENT.match(measurement) or "." in measurement or ":" in measurement:
        raise QueryError(f"bad measurement name {measurement!r}")
    for col in (frame.columns if frame is not None else tags):
        if not IDENT.match(str(col)) or "." in str(col) or "-" in str(col):
            raise QueryError(f"bad column name {col!r}")
    if frame is not None and "time" not in frame:
        raise QueryError("frame needs a 'time' column")


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(series):
        return "BIGINT"
    if pd.api.types.is_float_dtype(series):
        return "DOUBLE"
    return "VARCHAR"


def duck_write_frame(db, measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> int:
    check_measurement(measurement, frame, tags)
    if frame.empty:
        return 0
    df = frame.copy()
    # whole seconds whatever the datetime resolution (pandas 3 defaults to microseconds)
    df["time"] = pd.to_datetime(df["time"], utc=True).dt.as_unit("s").astype("int64")
    key = ["time", *tags]
    df = df.drop_duplicates(key, keep="last")
    table = f"d_{measurement}"
    cols = ", ".join(f'"{c}" {_sql_type(df[c]) if c != "time" else "BIGINT"}' for c in df.columns)
    db.execute(f'CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({", ".join(key)}))')
    have = {r[0] for r in db.execute(f"DESCRIBE {table}").fetchall()}
    for c in df.columns:
        if c not in have:
            db.execute(f'ALTER TABLE {table} ADD COLUMN "{c}" {_sql_type(df[c])}')
    names = ", ".join(f'"{c}"' for c in df.columns)
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in df.columns if c not in key) or None
    conflict = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
    db.register("frame_in", df)
    try:
        db.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM frame_in "
                   f"ON CONFLICT ({', '.join(key)}) {conflict}")
    finally:
        db.unregister("frame_in")
    return len(df)


def _check_values(where: dict[str, Sequence[str]] | None) -> None:
    for col, values in (where or {}).items():
        if not all(isinstance(v, str) and IDENT.match(v) for v in values):
            raise QueryError(f"bad value for {col}")


def _select(table: str, start: datetime, end: datetime,
            where: dict[str, Sequence[str]] | None) -> tuple[str, list]:
    """``SELECT *`` of ``table`` in ``[start, end)`` where each column is one of its values
    (values checked by :func:`_check_values`, bound as parameters)."""
    sql, args = f"SELECT * FROM {table} WHERE time >= ? AND time < ?", [
        int(start.timestamp()), int(end.timestamp())]
    for col, values in (where or {}).items():
        sql += f' AND "{col}" IN ({", ".join("?" for _ in values)})'
        args += list(values)
    return sql, args


def duck_read_frame(db, measurement: str, start: datetime, end: datetime,
                    where: dict[str, Sequence[str]] | None, max_rows: int) -> pd.DataFrame:
    check_measurement(measurement, None, list(where or {}))
    _check_values(where)   # checked even when the table does not exist
    table = f"d_{measurement}"
    if not db.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                      [table]).fetchone()[0]:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]")})
    sql, args = _select(table, start, end, where)
    df = db.execute(sql + f" ORDER BY time LIMIT {max_rows + 1}", args).df()
    if len(df) > max_rows:
        raise QueryTooLarge(f"more than {max_rows} rows")
    df["time"] = to_utc(df["time"])
    return df.reset_index(drop=True)


def duck_latest_frame(db, measurement: str, start: datetime, end: datetime,
                      where: dict[str, Sequence[str]] | None, by: str,
                      present: str | None = None) -> pd.DataFrame:
    """The newest row in ``[start, end)`` of each ``by`` value, among the rows where the
    numeric field ``present`` holds a value (>= 0) when named: one window query, the scan
    bounded by the time range."""
    check_measurement(measurement, None, [*(where or {}), by, *([present] if present else [])])
    _check_values(where)
    table = f"d_{measurement}"
    have = {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = ?", [table]).fetchall()}
    if not have or (present and present not in have):
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]")})
    sql, args = _select(table, start, end, where)
    if present:
        sql += f' AND "{present}" >= 0'
    df = db.execute(sql + f' QUALIFY row_number() OVER (PARTITION BY "{by}" ORDER BY time DESC)'
                    f' = 1 ORDER BY "{by}"', args).df()
    df["time"] = to_utc(df["time"])
    return df.reset_index(drop=True)
