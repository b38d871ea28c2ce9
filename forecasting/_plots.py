"""PNG plots of a backtest: forecast (median and 10-90 % band) vs observed daily AQI per
lead day, one file per city and lead day. Needs matplotlib (not a dependency of the
service: ``pip install matplotlib`` where plots are wanted)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ForecastError


def plot_backtest(result, cities: list[str], out_dir: Path) -> list[Path]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ForecastError("--plot needs matplotlib (pip install matplotlib)") from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    days = pd.to_datetime(result.origin_hours * 3600, unit="s", utc=True).tz_convert(
        "Asia/Shanghai")
    paths = []
    for k, city in enumerate(cities):
        for d in range(result.obs_aqi.shape[2]):
            valid = days + pd.Timedelta(days=d)
            fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
            ax.plot(valid, result.obs_aqi[:, k, d], color="black", lw=1.4, label="observed")
            ax.plot(valid, result.model_aqi[:, k, d], color="tab:blue", lw=1.2,
                    label="model (median)")
            ax.plot(valid, result.pers_aqi[:, k], color="tab:gray", lw=0.8, ls="--",
                    label="persistence")
            for level in (200, 300):
                ax.axhline(level, color="tab:red", lw=0.6, ls=":")
            ax.set_title(f"{city}: daily AQI, lead day {d + 1}")
            ax.set_ylabel("AQI")
            ax.legend(loc="upper left", fontsize=8)
            fig.autofmt_xdate()
            path = out_dir / f"backtest_{city}_lead{d + 1}.png"
            fig.savefig(path, bbox_inches="tight")
            plt.close(fig)
            paths.append(path)
    return paths


__all__ = ["plot_backtest", "np"]
