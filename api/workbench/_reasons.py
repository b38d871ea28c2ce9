"""Plain-language reasons for findings, in English and Chinese."""
from __future__ import annotations

import pandas as pd

from core.timeutil import CST

NAMES = {"pm25": ("PM2.5", "PM2.5"), "pm10": ("PM10", "PM10"), "so2": ("SO2", "二氧化硫"),
         "no2": ("NO2", "二氧化氮"), "o3": ("O3", "臭氧"), "co": ("CO", "一氧化碳")}


def _t(ts: pd.Timestamp) -> str:
    return ts.tz_convert(CST).strftime("%Y-%m-%d %H:%M")


def reason(rule: str, sid: str, p: str, why: dict, start, end) -> tuple[str, str]:
    en_p, zh_p = NAMES.get(p, (p, p))
    when = f"{_t(start)}–{_t(end)} CST"
    hours = int((end - start) / pd.Timedelta(hours=1))
    if rule == "departure":
        low = why["direction"] == "low"
        return (f"{en_p} at {sid} was {why['ratio']:.2f}× its neighbours' median for {hours} h "
                f"({when}); it is usually {why['usual_ratio']:.2f}×, and the wind does not "
                f"explain the {'drop' if low else 'rise'} — check the inlet, sampling and "
                "any activity at the site.",
                f"{when}（北京时间），{sid} 的{zh_p}为周边站点中位数的 {why['ratio']:.2f} 倍，持续 "
                f"{hours} 小时；通常为 {why['usual_ratio']:.2f} 倍，风况无法解释该"
                f"{'偏低' if low else '偏高'}，请核查采样口、采样过程及站点周边活动。")
    if rule == "sustained_offset":
        low = why["direction"] == "low"
        return (f"{en_p} at {sid} stayed at {why['ratio']:.2f}× its neighbours' median for "
                f"{hours} h ({when}); it is usually {why['usual_ratio']:.2f}× — an analyser "
                f"reading {'low' if low else 'high'} for a day or more: check its calibration "
                "records and span checks.",
                f"{when}（北京时间），{sid} 的{zh_p}持续 {hours} 小时为周边站点中位数的 "
                f"{why['ratio']:.2f} 倍，通常为 {why['usual_ratio']:.2f} 倍：分析仪可能整体"
                f"{'偏低' if low else '偏高'}，请核查校准记录和跨度检查。")
    if rule == "level_shift":
        down = why["direction"] == "down"
        return (f"{en_p} at {sid} stepped {'down' if down else 'up'} against its neighbours "
                f"at {_t(start)} CST ({abs(why['step_scales']):.1f} usual spreads) and stayed "
                "there: a changed instrument, calibration or setting is likely.",
                f"{sid} 的{zh_p}在 {_t(start)}（北京时间）相对周边站点突然"
                f"{'下降' if down else '上升'}（{abs(why['step_scales']):.1f} 倍常见波动）并保持，"
                "可能是仪器、校准或设置发生了变化。")
    if rule == "flat_line":
        return (f"{en_p} at {sid} read exactly {why['value']:g} for {why['hours']} h ({when}) "
                f"while its neighbours varied by {why['neighbours_range']:.0f}: a stuck "
                "instrument or values entered by hand.",
                f"{when}（北京时间），{sid} 的{zh_p}连续 {why['hours']} 小时恒为 {why['value']:g}，"
                f"而周边站点变化了 {why['neighbours_range']:.0f}：仪器卡滞或人工填数。")
    if rule == "too_smooth":
        return (f"{en_p} at {sid} changed hour to hour only {why['roughness_ratio']:.2f}× as "
                f"much as its neighbours ({when}): a series this smooth suggests values "
                "replaced or interpolated.",
                f"{when}（北京时间），{sid} 的{zh_p}逐时变化仅为周边站点的 "
                f"{why['roughness_ratio']:.2f} 倍，序列过于平滑，疑似数据被替换或插补。")
    if rule == "hour_drop":
        hrs = ", ".join(f"{h:02d}:00" for h in why["hours"])
        drop = max(why["drop"])
        return (f"{en_p} at {sid} reads up to {drop:.0%} lower than usual against its "
                f"neighbours at {hrs} CST on most of {why['days']} days, which the wind does "
                "not explain: look for spraying or blocking of the inlet at those hours.",
                f"{sid} 的{zh_p}在 {why['days']} 天中的多数天里，每天 {hrs}（北京时间）相对周边"
                f"站点比平时低至多 {drop:.0%}，风况无法解释：请核查这些时段是否存在喷淋或遮挡"
                "采样口。")
    if rule == "pm25_above_pm10":
        return (f"PM2.5 at {sid} exceeded PM10 for {why['hours']} h ({when}, up to "
                f"{why['max_ratio']:.2f}×); PM2.5 is part of PM10, so one of the two analysers "
                "is wrong.",
                f"{when}（北京时间），{sid} 的 PM2.5 高于 PM10 共 {why['hours']} 小时（最高 "
                f"{why['max_ratio']:.2f} 倍）；PM2.5 是 PM10 的一部分，两台分析仪之一有误。")
    if rule == "flags_in_episodes":
        return (f"{sid} started calibration or maintenance (C/M flags on {en_p}) "
                f"{why['runs_in_episodes']} times during pollution episodes "
                f"({why['episode_days']} days) against {why['runs_outside']} times in "
                f"{why['other_days']} other days ({when}): data withheld when it matters most.",
                f"{when}（北京时间），{sid} 在污染过程中（{why['episode_days']} 天）"
                f"{why['runs_in_episodes']} 次开始校准或维护（{zh_p} C/M 标记），其余 "
                f"{why['other_days']} 天仅 {why['runs_outside']} 次：关键时段数据缺失。")
    return (f"{rule} at {sid} ({when})", f"{sid} {rule}（{when}）")
