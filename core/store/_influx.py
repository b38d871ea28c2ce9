"""InfluxDB adapter over the v1 HTTP API (/write line protocol, /query InfluxQL).

Works with InfluxDB 1.x (tested: Debian's 1.6.7). For 2.x/3.x use ``influxdb2://`` URLs:
writes then go through influxdb-client's token-authenticated /api/v2/write, queries through
the v1-compatible /query endpoint (needs a DBRP mapping for the bucket).
"""
from __future__ import annotations

import json
import logging
import re
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Sequence
from urllib.parse import unquote, urlsplit, parse_qs

import httpx
import pandas as pd

from ..catalogue import Catalogue
from ..wire import Reading
from ._influx_csv import parse_csv, split_tags
from ._lineproto import lines
from ._flight import Flights, SharedReads
from ._port import (DEFAULT_MAX_ROWS, IDENT, agg_columns, check_bucket_bound, check_every,
                    check_query, finish_raw, to_utc)
from .errors import QueryError, QueryTooLarge, StoreError, StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


_CONFLICT = re.compile(r'field type conflict: input field \\?"([A-Za-z0-9_]+)\\?"')
SPLIT_RAW_S = 30 * 86400  # raw queries longer than this are asked in two halves at once
# query answers uncompressed: httpx asks for gzip by default, and influxd's gzip of a
# station-year's CSV (744 kB) cost ~60 ms of its CPU per query (wall 107-127 ms with gzip,
# 33-50 ms without, same run); the answers cross loopback or a LAN, not the internet
_PLAIN = {"Accept-Encoding": "identity"}


class InfluxStore(SharedReads):
    def __init__(self, url: str, catalogue: Catalogue, *, max_rows: int = DEFAULT_MAX_ROWS,
                 timeout: float = 10.0, create_db: bool = True) -> None:
        parts = urlsplit(url)
        self.v2 = parts.scheme.startswith("influxdb2")
        tls = parts.scheme.endswith("s")
        self.base = f"{'https' if tls else 'http'}://{parts.hostname}:{parts.port or 8086}"
        self.db = unquote(parts.path.lstrip("/")) or "fenwei"
        if not IDENT.match(self.db):
            raise StoreError(f"bad InfluxDB database name {self.db!r}")
        self.cat, self.max_rows = catalogue, max_rows
        self._params = {k: [p.name for p in catalogue.params_of(k)] for k in ("air", "hydro")}
        auth, headers = None, {}
        if self.v2:
            headers["Authorization"] = f"Token {unquote(parts.password or '')}"
            self.org = parse_qs(parts.query).get("org", ["fenwei"])[0]
        elif parts.username:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        # one TLS context for all: httpx builds one per client otherwise (~50 ms of CPU)
        self._client_args = dict(base_url=self.base, auth=auth, headers=headers,
                                 timeout=timeout, limits=httpx.Limits(max_connections=1),
                                 verify=ssl.create_default_context())
        self._clients: dict[int, tuple[threading.Thread, httpx.Client]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._flights = Flights()   # identical reads at once share one query
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None  # for halves of long raw queries
        self._create_db = create_db
        if create_db and not self.v2:
            self.command(f'CREATE DATABASE "{self.db}"')

    # -- transport --------------------------------------------------------------------
    @property
    def _http(self) -> httpx.Client:
        """This thread's client. One client shared by threads lost a connection under a
        reader now and then (EBADF while reading a body, 200 threads): httpcore's pool
        closed a connection it had just handed to another thread. A client per thread shares
        nothing; clients of finished threads are closed when a new one is made."""
        if self._closed:
            raise StoreUnavailable("the InfluxDB store is closed")
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
        return client

    def _new_client(self) -> httpx.Client:
        me = threading.current_thread()
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the InfluxDB store is closed")
            for ident, (thread, old) in list(self._clients.items()):
                if not thread.is_alive():
                    del self._clients[ident]
                    old.close()
            client = httpx.Client(**self._client_args)
            self._clients[me.ident] = (me, client)
        self._local.client = client
        return client

    def _post(self, path: str, **kw) -> httpx.Response:
        try:
            resp = self._http.post(path, **kw)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise StoreUnavailable(f"InfluxDB at {self.base} unreachable: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 429):
            raise StoreUnavailable(f"InfluxDB answered {resp.status_code}: {resp.text[:300]}")
        return resp

    def command(self, q: str) -> dict:
        resp = self._post("/query", data={"q": q, "db": self.db})
        if resp.status_code != 200:
            raise QueryError(f"InfluxDB refused {q[:80]!r}: {resp.text[:300]}")
        return resp.json()

    def write_lines(self, body: list[str]) -> None:
        """Write line-protocol lines; raises StoreRejected (permanent) or StoreUnavailable."""
        if not body:
            return
        data = ("\n".join(body)).encode("utf-8")
        try:
            if self.v2:
                resp = self._post("/api/v2/write", params={"org": self.org, "bucket": self.db,
                                                             "precision": "s"}, content=data)
            else:
                resp = self._post("/write", params={"db": self.db, "precision": "s"},
                                  content=data)
        finally:
            self._flights.wrote()   # (a failed write may have stored part of it)
        if resp.status_code == 404:
            # "database not found" (v1) / "bucket not found" (v2): an outage, never bad
            # data; recreated as at start (with the server's default retention policy)
            self._recreate(resp.text)
        if resp.status_code in (400, 413):
            # the data itself: unparsable lines, a field type conflict ("partial write":
            # the other points were written), beyond the retention policy, too big a body
            raise StoreRejected(f"InfluxDB rejected the write ({resp.status_code}): "
                                f"{resp.text[:500]}")
        if resp.status_code not in (200, 204):     # anything else: the server, not the data
            raise StoreUnavailable(f"InfluxDB answered the write with {resp.status_code}: "
                                   f"{resp.text[:300]}")

    def _recreate(self, text: str) -> None:
        if self._create_db and not self.v2:
            try:
                self.command(f'CREATE DATABASE "{self.db}"')
                log.warning("InfluxDB database %s was missing: recreated", self.db)
            except (QueryError, StoreUnavailable) as exc:
                log.warning("InfluxDB database %s missing and not recreated: %s", self.db, exc)
        raise StoreUnavailable(f"InfluxDB database {self.db} not found: {text[:300]}")

    def write(self, readings: Sequence[Reading]) -> int:
        """Write readings. Where another writer typed a ``<p>_flag`` field otherwise in a
        shard, the readings whose flag there is N are written without it (absent = N): only
        readings with a real flag in that field stay refused (StoreRejected)."""
        omit: frozenset[str] = frozenset()
        while True:
            try:
                self.write_lines(lines(readings, omit))
                return len(readings)
            except StoreRejected as exc:
                m = _CONFLICT.search(str(exc))
                field = m.group(1) if m else ""
                if not field.endswith("_flag") or field in omit or len(omit) >= 8:
                    raise
                omit |= {field}

    # -- queries ----------------------------------------------------------------------
    def select(self, q: str) -> list[dict]:
        """Run an InfluxQL query (chunked), returning its series."""
        try:
            with self._http.stream("POST", "/query", headers=_PLAIN, data={
                    "q": q, "db": self.db, "epoch": "s", "chunked": "true",
                    "chunk_size": "20000"}) as resp:
                if resp.status_code >= 500:
                    raise StoreUnavailable(f"InfluxDB answered {resp.status_code}")
                series = []
                for line in resp.iter_lines():
                    if line.strip():
                        series += self._series(json.loads(line))
                return series
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise StoreUnavailable(f"InfluxDB at {self.base} unreachable: {exc}") from exc

    def select_frame(self, q: str, strings=()) -> pd.DataFrame:
        """Run an InfluxQL query (chunked), answered as CSV and parsed into one frame with
        columns ``name``, ``tags``, ``time`` (epoch s) and the selected ones; ``strings``
        name the columns kept as text."""
        try:
            with self._http.stream("POST", "/query",
                                   headers={**_PLAIN, "Accept": "application/csv"},
                                   data={"q": q, "db": self.db, "epoch": "s",
                                         "chunked": "true", "chunk_size": "20000"}) as resp:
                body = resp.read()
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise StoreUnavailable(f"InfluxDB at {self.base} unreachable: {exc}") from exc
        if resp.status_code >= 500:
            raise StoreUnavailable(f"InfluxDB answered {resp.status_code}")
        if resp.status_code != 200:
            raise QueryError(f"InfluxDB refused the query ({resp.status_code}): "
                             f"{body[:300].decode('utf-8', 'replace')}")
        return parse_csv(body, strings)

    @staticmethod
    def _series(doc: dict) -> list[dict]:
        out = []
        for res in doc.get("results", []):
            if "error" in res:
                raise QueryError(f"InfluxDB: {res['error']}")
            out += res.get("series", [])
        if "error" in doc:
            raise QueryError(f"InfluxDB: {doc['error']}")
        return out

    def _frame(self, series: list[dict]) -> pd.DataFrame:
        """One frame of the series' rows, their tags as columns. Series with the same
        columns and tag keys become one frame at once (a frame per series cost ~0.3 ms
        each: 60 ms for the newest row of 200 stations)."""
        groups: dict[tuple, tuple[list, dict[str, list]]] = {}
        for s in series:
            tags = s.get("tags") or {}
            rows, tag_values = groups.setdefault((tuple(s["columns"]), tuple(tags)),
                                                 ([], {k: [] for k in tags}))
            rows += s["values"]
            for k, v in tags.items():
                tag_values[k] += [v] * len(s["values"])
        frames = []
        for (columns, _), (rows, tag_values) in groups.items():
            df = pd.DataFrame(rows, columns=list(columns))
            for k, values in tag_values.items():
                df[k] = pd.Series(values, dtype=object)
            frames.append(df)
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _where(self, q, key: str, start: int | None = None, end: int | None = None) -> str:
        where = f"time >= {q.start if start is None else start}s AND " \
                f"time < {q.end if end is None else end}s"
        if q.keys:
            where += " AND (" + " OR ".join(f'"{key}" = {_q(k)}' for k in q.keys) + ")"
        return where

    def _raw(self, kind, stations, params, start, end, *, limit=None) -> pd.DataFrame:
        q = check_query(self.cat, kind, stations, params, start, end)
        limit = min(limit or self.max_rows, self.max_rows)
        fields = ", ".join(f'"{p}", "{p}_flag"' for p in q.params)
        text = ["city", "period", "station", *(f"{p}_flag" for p in q.params)]

        def part(t0: int, t1: int) -> pd.DataFrame:
            where = self._where(q, "station", t0, t1)
            return self.select_frame(f'SELECT {fields}, "city", "period", "station" FROM '
                                     f'"{kind}" WHERE {where} LIMIT {limit + 1}', text)
        if q.end - q.start > SPLIT_RAW_S:
            # a long range is asked as two halves at once: influxd answers them on two
            # cores (a station-year: 74 -> 45 ms), and the CSV of each is parsed meanwhile
            mid = q.start + (q.end - q.start) // 2
            later = self._pool().submit(part, mid, q.end)
            try:
                first = part(q.start, mid)
            except BaseException:
                wait([later])  # its error, if any, would only repeat this one
                raise
            df = pd.concat([first, later.result()], ignore_index=True)
        else:
            df = part(q.start, q.end)
        if len(df) > limit:
            raise QueryTooLarge(f"more than {limit} rows; narrow the range or stations")
        return self._finish(df, q.params)

    def _finish(self, df: pd.DataFrame, params) -> pd.DataFrame:
        if df.empty:
            df = pd.DataFrame({c: [] for c in ("time", "station", "city", "period")})
        df["time"] = to_utc(df["time"].astype("int64"))
        return finish_raw(df, params)

    def _aggregate(self, kind, params, start, end, *, every="1h", by="station", keys=None):
        width, offset = check_every(every, by)
        q = check_query(self.cat, kind, keys, params, start, end)
        n_keys = len(q.keys) or len(self.cat.stations if by == "station" else self.cat.cities)
        check_bucket_bound(q, width, n_keys, self.max_rows)
        aggs = ", ".join(f'mean("{p}") AS "{p}_mean", min("{p}") AS "{p}_min", '
                         f'max("{p}") AS "{p}_max", count("{p}") AS "{p}_count"'
                         for p in q.params)
        off = f", -{offset}s" if offset else ""
        df = self.select_frame(
            f'SELECT {aggs} FROM "{kind}" WHERE {self._where(q, by)} '
            f'GROUP BY time({width}s{off}), "{by}" fill(none)')
        cols = agg_columns(by, q.params)
        if df.empty:
            return pd.DataFrame({c: [] for c in cols})
        df[by] = split_tags(df["tags"], [by])[by]
        df["time"] = to_utc(df["time"].astype("int64"))
        for p in q.params:
            df[f"{p}_count"] = df[f"{p}_count"].fillna(0).astype("int64")
            for a in ("mean", "min", "max"):
                df[f"{p}_{a}"] = df[f"{p}_{a}"].astype("float64")
        df = df[df[[f"{p}_count" for p in q.params]].sum(axis=1) > 0]
        return df[cols].sort_values([by, "time"]).reset_index(drop=True)

    def _latest(self, kind, stations=None) -> pd.DataFrame:
        if kind not in ("air", "hydro"):
            raise QueryError(f"unknown kind {kind!r}")
        if stations and not all(isinstance(s, str) and IDENT.match(s) for s in stations):
            raise QueryError("bad station identifier")
        where = ""
        if stations:
            where = "WHERE " + " OR ".join(f'"station" = {_q(s)}' for s in stations)
        df = self._frame(self.select(
            f'SELECT * FROM "{kind}" {where} GROUP BY "station" ORDER BY time DESC LIMIT 1'))
        return self._finish(df, self._params[kind])

    # -- derived series ---------------------------------------------------------------
    def write_frame(self, measurement, frame, tags) -> int:
        from ._influx_derived import frame_lines
        body = frame_lines(measurement, frame, tags)
        for i in range(0, len(body), 5000):
            self.write_lines(body[i:i + 5000])
        return len(body)

    def _frame_cond(self, measurement, start, end, where, extra=()) -> str:
        from ._derived import check_measurement
        check_measurement(measurement, None, [*(where or {}), *extra])
        cond = f"time >= {int(start.timestamp())}s AND time < {int(end.timestamp())}s"
        for col, values in (where or {}).items():
            if not all(isinstance(v, str) and IDENT.match(v) for v in values):
                raise QueryError(f"bad value for {col}")
            cond += " AND (" + " OR ".join(f'"{col}" = {_q(v)}' for v in values) + ")"
        return cond

    def _read_frame(self, measurement, start, end, where=None) -> pd.DataFrame:
        cond = self._frame_cond(measurement, start, end, where)
        df = self._frame(self.select(
            f'SELECT * FROM "{measurement}" WHERE {cond} LIMIT {self.max_rows + 1}'))
        if len(df) > self.max_rows:
            raise QueryTooLarge(f"more than {self.max_rows} rows")
        if df.empty:
            return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]")})
        df["time"] = to_utc(df["time"].astype("int64"))
        return df.sort_values("time").reset_index(drop=True)

    def _latest_frame(self, measurement, start, end, where=None, *,
                     by: str = "station", present: str | None = None) -> pd.DataFrame:
        """The newest row in ``[start, end)`` of each ``by`` tag value (among the rows whose
        numeric field ``present`` holds a value, when named): one query, each series read
        backwards from ``end`` and stopped at its first point."""
        cond = self._frame_cond(measurement, start, end, where,
                                [by, *([present] if present else [])])
        if present:
            cond += f' AND "{present}" >= 0'
        df = self._frame(self.select(f'SELECT * FROM "{measurement}" WHERE {cond} '
                                     f'GROUP BY "{by}" ORDER BY time DESC LIMIT 1'))
        if df.empty:
            return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]")})
        df["time"] = to_utc(df["time"].astype("int64"))
        return df.sort_values(by).reset_index(drop=True)

    def ping(self) -> bool:
        try:
            return self._http.get("/ping").status_code == 204
        except (httpx.HTTPError, StoreUnavailable):
            return False

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise StoreUnavailable("the InfluxDB store is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(8, thread_name_prefix="influx-query")
            return self._executor

    def close(self) -> None:
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, {}
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        for _, client in clients.values():
            client.close()
