"""Warning levels (blue < yellow < orange < red), their names and CAP severities."""
from __future__ import annotations

LEVELS = ("blue", "yellow", "orange", "red")
RANK = {name: i for i, name in enumerate(LEVELS)}
NAME_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
RESPONSE_ZH = {"blue": "Ⅳ级", "yellow": "Ⅲ级", "orange": "Ⅱ级", "red": "Ⅰ级"}
CAP_SEVERITY = {"blue": "Minor", "yellow": "Moderate", "orange": "Severe", "red": "Extreme"}


def check_level(level: str) -> str:
    if level not in RANK:
        raise ValueError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    return level


def higher(a: str | None, b: str | None) -> bool:
    """True when level ``a`` is above ``b`` (None is below every level)."""
    return (RANK[a] if a else -1) > (RANK[b] if b else -1)
