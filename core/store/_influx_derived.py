"""Derived frames to line protocol with influxdb-client's DataFrame serializer."""
from __future__ import annotations

from typing import Sequence

import pandas as pd
from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
from influxdb_client.client.write_api import PointSettings
from influxdb_client.domain.write_precision import WritePrecision

from ._derived import check_measurement


def frame_lines(measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> list[str]:
    check_measurement(measurement, frame, tags)
    if frame.empty:
        return []
    df = frame.copy()
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df = df.drop_duplicates(["time", *tags], keep="last").set_index("time")
    for c in df.columns:
        if pd.api.types.is_integer_dtype(df[c]) and c not in tags:
            df[c] = df[c].astype("float64")  # one numeric type per field: no type conflicts
    return data_frame_to_list_of_points(
        df, PointSettings(), WritePrecision.S, data_frame_measurement_name=measurement,
        data_frame_tag_columns=list(tags))
