"""InfluxDB 1.x query results as CSV (``Accept: application/csv``), parsed by pandas' C reader.

A station-year is 8,760 rows of 15 columns; parsing the JSON answer row by row into Python
lists and then into a frame cost more than the query. The CSV answer carries times as epoch
seconds (``epoch=s``) and one header per statement; InfluxDB reprints the header after a
blank line when the columns change, and reports an error as a line ``error`` followed by the
message. Columns: ``name``, ``tags`` (``k=v,...`` of a GROUP BY series, else empty),
``time``, then the selected ones.
"""
from __future__ import annotations

import io
from typing import Iterable

import pandas as pd

from .errors import QueryError


def parse_csv(body: bytes, strings: Iterable[str] = ()) -> pd.DataFrame:
    """The frame of one CSV answer; ``strings`` name the columns to keep as text."""
    if not body.strip():
        return pd.DataFrame()
    _raise_error(body)
    text = set(strings) | {"name", "tags"}
    frames = [_block(block, text) for block in body.split(b"\n\n") if block.strip()]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _raise_error(body: bytes) -> None:
    if body.startswith(b"error\n"):
        raise QueryError("InfluxDB: " + _message(body[6:]))
    at = body.find(b"\nerror\n")
    if at >= 0:
        raise QueryError("InfluxDB: " + _message(body[at + 7:]))


def _message(rest: bytes) -> str:
    line = rest.split(b"\n", 1)[0].decode("utf-8", "replace")
    return line[1:-1].replace('""', '"') if line.startswith('"') else line


def _block(block: bytes, text: set[str]) -> pd.DataFrame:
    header = block.split(b"\n", 1)[0].decode("utf-8").split(",")
    dtype = {c: "object" for c in header if c in text}
    dtype["time"] = "int64"
    # only an empty cell is missing: a flag or id such as "NA" stays text
    return pd.read_csv(io.BytesIO(block), dtype=dtype, keep_default_na=False,
                       na_values=[""], engine="c")


def split_tags(tags: pd.Series, keys: Iterable[str]) -> dict[str, pd.Series]:
    """``k=v,...`` tag strings (InfluxDB escapes ``,``, ``=`` and spaces) as one column per
    key, parsing each distinct string once."""
    codes, uniques = pd.factorize(tags, use_na_sentinel=True)
    parsed = [_tag_dict(str(u)) for u in uniques]
    out = {}
    for k in keys:
        values = pd.Series([d.get(k) for d in parsed] + [None], dtype="object")
        out[k] = pd.Series(values.to_numpy()[codes], index=tags.index, dtype="object")
    return out


def _tag_dict(text: str) -> dict[str, str]:
    out, key, buf, i = {}, None, [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == "=" and key is None:
            key, buf = "".join(buf), []
        elif ch == ",":
            if key is not None:
                out[key] = "".join(buf)
            key, buf = None, []
        else:
            buf.append(ch)
        i += 1
    if key is not None:
        out[key] = "".join(buf)
    return out
