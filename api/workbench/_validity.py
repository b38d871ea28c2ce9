"""Data validity rules (有效性规定) as configuration with their sources.

* Hourly value: at least 45 minutes of sampling in the hour (GB 3095-2012 §8.2, Table 4;
  HJ 663-2013 §4).
* Daily (24 h) mean: at least 20 valid hourly values in the China Standard Time day
  (DOMAIN.md §3, after HJ 633 / GB 3095-2012 Table 4).
* Monthly mean: at least 27 valid daily values, 25 in February (GB 3095-2012 Table 4).
  DOMAIN.md does not state the monthly rule: it is configuration, its source recorded here.

Only values flagged N or T count (``core.flags``; DOMAIN.md §5); missing data never counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from core.flags import FLAGS


@dataclass(frozen=True)
class ValidityRules:
    day_min_hours: int = 20
    month_min_days: int = 27
    february_min_days: int = 25
    hour_min_minutes: int = 45
    source: str = ("GB 3095-2012 §8 Table 4 (数据统计的有效性规定) and HJ 663-2013; daily rule "
                   "as in DOMAIN.md §3")

    def month_min(self, month: int) -> int:
        return self.february_min_days if month == 2 else self.month_min_days

    def as_dict(self) -> dict:
        return asdict(self)


#: a gap's cause from the flag of its hours (missing values are site_offline/pipeline_down)
FLAG_CAUSES = {"M": "maintenance", "C": "calibration"}
CAUSES = {
    "site_offline": ("no value from this station while others reported",
                     "站点离线：其他站点有数据而本站无数据"),
    "pipeline_down": ("no value from any station of this kind (collection or ingest down)",
                      "数据链路中断：所有站点均无数据"),
    "maintenance": ("flagged M (maintenance)", "维护（M 标记）"),
    "calibration": ("flagged C (calibration)", "校准（C 标记）"),
    "invalid_flag": ("flagged invalid", "无效数据标记"),
}


def cause_of(flag: str | None, has_value: bool, anyone_reported: bool) -> str:
    if has_value and flag is not None:
        return FLAG_CAUSES.get(flag, "invalid_flag")
    return "site_offline" if anyone_reported else "pipeline_down"


def flag_meaning(flag: str | None) -> str | None:
    return FLAGS.get(flag) if flag else None
