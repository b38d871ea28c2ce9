"""The loader: range checks, what the store already holds, writes, resume state, progress.

Idempotent: each chunk is compared with what the store holds for its stations and hours;
values already stored with the same value are counted ``unchanged`` and not written again, so
re-running an import writes nothing. Resumable: after each chunk is stored, the state file
records how many rows of the file are done (a file that changed since starts over); a file
done is skipped on the next run unless ``restart``.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from core.catalogue import Catalogue
from core.wire import Reading

from ._formats import CITY_KIND, PARSERS
from ._model import Chunk, Summary

log = logging.getLogger(__name__)
WRITE_BATCH = 50_000   # readings per store.write: DuckDB upserts cost per call, not per row
CITY_MEASUREMENT = "city_obs"   # CNEMC city files: tag city, one field per parameter
PERIOD = "PT1H"


class ImportState:
    """Rows done per (store, format, file), kept in a JSON file written atomically."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.doc: dict = {}
        if path is not None and path.exists():
            try:
                self.doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                log.warning("import state %s unreadable: starting over", path)

    @staticmethod
    def identity(file: Path) -> dict:
        st = file.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def get(self, key: str, file: Path) -> dict:
        entry = self.doc.get(key)
        if entry and all(entry.get(k) == v for k, v in self.identity(file).items()):
            return entry
        return {"rows_done": 0, "done": False}

    def put(self, key: str, file: Path, rows_done: int, done: bool) -> None:
        self.doc[key] = {**self.identity(file), "rows_done": rows_done, "done": done}
        if self.path is None:
            return
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(self.doc, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


class Importer:
    def __init__(self, store, catalogue: Catalogue, *, state: ImportState | None = None,
                 store_id: str = "", progress: bool | None = None) -> None:
        self.store, self.cat = store, catalogue
        self.state = state or ImportState(None)
        self.store_id, self.progress = store_id, progress

    def run(self, fmt: str, paths: Sequence[Path], lookup, *, restart: bool = False,
            summary: Summary | None = None) -> Summary:
        parse = PARSERS[fmt]
        out = summary or Summary()
        bar = tqdm(total=len(paths), unit="file", desc=f"import {fmt}",
                   disable=None if self.progress is None else not self.progress)
        try:
            for path in paths:
                path = Path(path)
                key = f"{self.store_id}|{fmt}|{path.resolve()}"
                entry = {"rows_done": 0, "done": False} if restart else \
                    self.state.get(key, path)
                out.files += 1
                if entry["done"]:
                    out.files_skipped += 1
                    bar.update(1)
                    continue
                rows = entry["rows_done"]
                for chunk in parse(path, self.cat, lookup, rows):
                    self.store_chunk(chunk, out)
                    rows = chunk.end_row
                    self.state.put(key, path, rows, False)
                    bar.set_postfix(rows=out.rows_read, stored=out.values_stored)
                self.state.put(key, path, rows, True)
                bar.update(1)
        finally:
            bar.close()
        return out

    # -- one chunk -------------------------------------------------------------------------
    def store_chunk(self, chunk: Chunk, out: Summary) -> None:
        out.rows_read += chunk.rows
        out.missing += chunk.missing
        out.rejected.update(chunk.rejected)
        out.skipped.update(chunk.skipped)
        read = sum(chunk.rejected.values()) + sum(chunk.skipped.values())
        n = len(chunk.ts)
        if n == 0:
            out.values_read += read
            return
        params = [p for p in chunk.values if p in self.cat.parameters]
        city = chunk.kind == CITY_KIND
        have = self._stored_city(chunk, params) if city else self._stored(chunk, params)
        write = np.zeros(n, bool)
        fresh: dict[str, np.ndarray] = {}
        for p in params:
            v = chunk.values[p]
            present = ~np.isnan(v)
            read += int(present.sum())
            spec = self.cat.parameters[p]
            bad = present & ((v < spec.min) | (v > spec.max))
            if bad.any():
                out.rejected["out_of_range"] += int(bad.sum())
            ok = present & ~bad
            old = have.get(p)
            if old is None:
                new, same, changed = ok, np.zeros(n, bool), np.zeros(n, bool)
            else:
                stored = ~np.isnan(old)
                same = ok & stored & np.isclose(v, old, rtol=1e-12, atol=1e-12)
                same &= self._same_flag(chunk, p, have, same)
                new = ok & ~stored
                changed = ok & stored & ~same
            out.values_stored += int(new.sum())
            out.values_replaced += int(changed.sum())
            out.values_unchanged += int(same.sum())
            w = new | changed
            # a city row is written whole (an upsert replaces every field): kept values too
            fresh[p] = np.where(w, v, old if city and old is not None else np.nan)
            write |= w
            if new.any():
                ids, counts = np.unique(chunk.station[new].astype(str), return_counts=True)
                for sid, c in zip(ids, counts):
                    out.per_station[(sid, p)] += int(c)
        out.values_read += read
        out.readings_stored += int(write.sum())
        if city:
            self._write_city(chunk, fresh, write)
        else:
            self._write(chunk, fresh, write)

    def _stored_city(self, chunk: Chunk, params: list[str]) -> dict[str, np.ndarray]:
        """The stored ``city_obs`` values of ``params`` aligned with the chunk's rows."""
        start = datetime.fromtimestamp(int(chunk.ts.min()), timezone.utc)
        end = datetime.fromtimestamp(int(chunk.ts.max()) + 1, timezone.utc)
        got = self.store.read_frame(CITY_MEASUREMENT, start, end,
                                    where={"city": sorted(set(chunk.station.tolist()))})
        if got.empty or "city" not in got:
            return {}
        right = got.assign(ts=(pd.to_datetime(got["time"], utc=True)
                               - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1))
        left = pd.DataFrame({"city": chunk.station.astype(str), "ts": chunk.ts})
        merged = left.merge(right[["city", "ts", *[p for p in params if p in right]]],
                            on=["city", "ts"], how="left")
        return {p: merged[p].to_numpy("float64") for p in params if p in merged}

    def _write_city(self, chunk: Chunk, fresh: dict[str, np.ndarray], write: np.ndarray
                    ) -> None:
        idx = np.flatnonzero(write)
        if len(idx) == 0:
            return
        frame = pd.DataFrame({"time": pd.to_datetime(chunk.ts[idx], unit="s", utc=True),
                              "city": chunk.station[idx].astype(str)})
        for p, v in fresh.items():
            frame[p] = v[idx]
        self.store.write_frame(CITY_MEASUREMENT, frame, ["city"])

    @staticmethod
    def _same_flag(chunk: Chunk, p: str, have: dict, same: np.ndarray) -> np.ndarray:
        flags = chunk.flags.get(p)
        if flags is None:
            return np.ones(len(same), bool)
        old = have.get(f"{p}_flag")
        if old is None:
            return np.ones(len(same), bool)
        return np.array([(a or "N") == (b or "N") for a, b in zip(flags, old)], bool)

    def _stored(self, chunk: Chunk, params: list[str]) -> dict[str, np.ndarray]:
        """The stored values of ``params`` aligned with the chunk's rows (NaN where none)."""
        stations = sorted(set(chunk.station.tolist()))
        start = datetime.fromtimestamp(int(chunk.ts.min()), timezone.utc)
        end = datetime.fromtimestamp(int(chunk.ts.max()) + 1, timezone.utc)
        raw = self.store.raw(chunk.kind, stations, params, start, end)
        if raw.empty:
            return {}
        raw = raw[raw["period"] == PERIOD]
        left = pd.DataFrame({"station": chunk.station.astype(str), "ts": chunk.ts})
        right = raw.copy()
        right["ts"] = (pd.to_datetime(raw["time"], utc=True) - pd.Timestamp(0, tz="UTC")) \
            // pd.Timedelta(seconds=1)
        cols = ["station", "ts", *params, *(f"{p}_flag" for p in params)]
        merged = left.merge(right[cols], on=["station", "ts"], how="left")
        out = {p: merged[p].to_numpy("float64") for p in params}
        out.update({f"{p}_flag": merged[f"{p}_flag"].to_numpy(object) for p in params})
        return out

    def _write(self, chunk: Chunk, fresh: dict[str, np.ndarray], write: np.ndarray) -> None:
        idx = np.flatnonzero(write)
        if len(idx) == 0:
            return
        params = list(fresh)
        cols = [fresh[p][idx].tolist() for p in params]
        fcols = [chunk.flags[p][idx].tolist() if p in chunk.flags else None for p in params]
        station, city = chunk.station[idx].tolist(), chunk.city[idx].tolist()
        ts = chunk.ts[idx].tolist()
        batch: list[Reading] = []
        utc, kind = timezone.utc, chunk.kind
        full = ~np.isnan(np.column_stack([fresh[p][idx] for p in params])).any(axis=1)
        has_flags = any(f is not None for f in fcols)
        for j in range(len(idx)):
            if full[j] and not has_flags:     # the common case: every parameter present
                values = dict(zip(params, [c[j] for c in cols]))
                flags: dict = {}
            else:
                values, flags = {}, {}
                for k, p in enumerate(params):
                    v = cols[k][j]
                    if v == v:                    # not NaN
                        values[p] = v
                        if fcols[k] is not None and fcols[k][j] not in (None, "N"):
                            flags[p] = fcols[k][j]
            batch.append(Reading(station[j], city[j], kind,
                                 datetime.fromtimestamp(ts[j], utc), PERIOD, values, flags))
            if len(batch) >= WRITE_BATCH:
                self.store.write(batch)
                batch = []
        if batch:
            self.store.write(batch)


def run_import(store, catalogue: Catalogue, fmt: str, paths: Iterable[Path], lookup, *,
               state_path: Path | None = None, store_id: str = "", restart: bool = False,
               progress: bool | None = None, summary: Summary | None = None) -> Summary:
    """Import ``paths`` in format ``fmt`` into ``store``; the summary of what happened (in
    ``summary`` when given, so a caller still has the counts if the store fails mid-way)."""
    imp = Importer(store, catalogue, state=ImportState(state_path), store_id=store_id,
                   progress=progress)
    return imp.run(fmt, [Path(p) for p in paths], lookup, restart=restart, summary=summary)
