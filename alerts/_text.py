"""Message text in Chinese and English for every alert event."""
from __future__ import annotations

from datetime import datetime

from core.timeutil import CST

from ._levels import NAME_ZH, RESPONSE_ZH

EVENT_ZH = {"issued": "发布", "updated": "更新", "escalated": "升级上报",
            "acknowledged": "已确认", "lifted": "解除", "cancelled": "取消",
            "renotified": "再次提醒"}
EVENT_EN = {"issued": "issued", "updated": "updated", "escalated": "escalated",
            "acknowledged": "acknowledged", "lifted": "lifted", "cancelled": "cancelled",
            "renotified": "reminder"}


def _t(ts: datetime | None) -> str:
    return ts.astimezone(CST).strftime("%Y-%m-%d %H:%M") if ts else "?"


def subject_names(cat, subject: str, cities: tuple[str, ...]) -> tuple[str, str]:
    typ, _, ident = subject.partition(":")
    zh = "、".join(cat.cities[c].name_zh for c in cities if c in cat.cities)
    en = ", ".join(cat.cities[c].name_en for c in cities if c in cat.cities)
    if typ == "station" and ident in cat.stations:
        st = cat.stations[ident]
        return f"{zh} {st.name_zh}（{ident}）", f"{en}, station {ident}"
    if typ == "section" and ident in cat.sections:
        sec = cat.sections[ident]
        return f"{sec.name_zh}断面（{zh}）", f"{sec.name_en} section ({en})"
    if typ == "region":
        return f"汾渭平原区域（{zh}）", f"Fen-Wei Plain region ({en})"
    return zh, en


def _detail(cat, ev: dict) -> tuple[str, str]:
    if ev.get("detail_zh"):   # rules that explain themselves (e.g. forecast warnings)
        return ev["detail_zh"], ev.get("detail_en", "") + " "
    p = cat.parameters.get(ev.get("parameter", ""))
    if p is None or ev.get("value") is None:
        return "", ""
    unit = ev.get("unit", p.unit)
    zh = f"{p.name_zh} {ev['value']:g} {unit}"
    en = f"{p.name} {ev['value']:g} {unit}"
    if ev.get("threshold") is not None:
        zh += f"，阈值 {ev['threshold']:g} {unit}"
        en += f", threshold {ev['threshold']:g} {unit}"
    return zh + "。", en + ". "


def render(cat, rule_title: tuple[str, str], alert: dict, event: str, *,
           ack_url: str | None = None, step: int = 0) -> tuple[str, str]:
    """(text_zh, text_en) for one event of an alert."""
    level = alert.get("level")
    cities = tuple(alert["cities"])
    szh, sen = subject_names(cat, alert["subject"], cities)
    dzh, den = _detail(cat, alert.get("evidence") or {})
    drill_zh = "【演练】" if alert["exercise"] else ""
    drill_en = "[EXERCISE] " if alert["exercise"] else ""
    lvl_zh = f"{NAME_ZH[level]}预警" if level else "预警"
    lvl_en = f"{level.upper()} warning" if level else "warning"
    title_zh = rule_title[0] or alert["kind"]
    title_en = rule_title[1] or alert["kind"]
    zh = (f"{drill_zh}【{lvl_zh}·{EVENT_ZH[event]}】{title_zh}：{szh}。{dzh}"
          f"观测时间 {_t(alert['observed_at'])}（北京时间）。")
    en = (f"{drill_en}{lvl_en} {EVENT_EN[event]}: {title_en}, {sen}. {den}"
          f"Observed {_t(alert['observed_at'])} CST.")
    if level and event in ("issued", "updated", "escalated", "renotified"):
        zh += f"建议启动{RESPONSE_ZH[level]}应急响应。"
    if event == "acknowledged":
        zh += f"确认人：{alert.get('ack_by')}。{alert.get('ack_note') or ''}"
        en += f" Acknowledged by {alert.get('ack_by')}. {alert.get('ack_note') or ''}"
    if event in ("lifted", "cancelled"):
        zh += "预警已解除，请按预案终止响应。" if event == "lifted" else "该预警已取消。"
        en += " The warning is lifted." if event == "lifted" else " The warning is cancelled."
    if event == "escalated":
        zh += f"超时未确认，已升级上报（第 {step} 级）。"
        en += f" Not acknowledged in time: escalated (step {step})."
    if ack_url and event in ("issued", "updated", "escalated", "renotified"):
        zh += f"请确认：{ack_url}"
        en += f" Acknowledge: {ack_url}"
    return zh.strip(), en.strip()


def group_line(cat, alert: dict, event: str) -> tuple[str, str]:
    """One alert's line in a group message: its subject, event and the value that fired."""
    szh, sen = subject_names(cat, alert["subject"], tuple(alert["cities"]))
    dzh, den = _detail(cat, alert.get("evidence") or {})
    return (f"{szh}（{EVENT_ZH[event]}）{dzh}".strip(),
            f"{sen} ({EVENT_EN[event]}). {den}".strip())


def group_text(heads: list[tuple[str, str]], lines: list[tuple[str, str]]
               ) -> tuple[str, str]:
    """(text_zh, text_en) of a group message: the first alert's heading, how many, and one
    numbered line per alert (every subject is listed)."""
    n = len(lines)
    # the heading ends its sentence before the first line break: an e-mail's subject is
    # the first sentence
    zh = f"{heads[0][0]}（共 {n} 项）。" + "".join(f"\n{i}. {z}" for i, (z, _) in
                                                enumerate(lines, 1))
    en = f"{heads[0][1]} ({n} alerts). Subjects:" + "".join(
        f"\n{i}) {e}" for i, (_, e) in enumerate(lines, 1))
    return zh, en


def group_head(rule_title: tuple[str, str], alert: dict, event: str) -> tuple[str, str]:
    """The heading of a group message: drill mark, level, event and the rule's title."""
    level = alert.get("level")
    drill_zh = "【演练】" if alert["exercise"] else ""
    drill_en = "[EXERCISE] " if alert["exercise"] else ""
    lvl_zh = f"{NAME_ZH[level]}预警" if level else "预警"
    lvl_en = f"{level.upper()} warning" if level else "warning"
    return (f"{drill_zh}【{lvl_zh}·{EVENT_ZH[event]}】{rule_title[0] or alert['kind']}",
            f"{drill_en}{lvl_en} {EVENT_EN[event]}: {rule_title[1] or alert['kind']}")
