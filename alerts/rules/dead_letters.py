"""Operators' alert on dead-lettered notifications (subject ``pipeline:notifications``).

Not a rule over readings or the store: the alert service assesses it at every tick from the
outbox (:meth:`alerts.AlertState.check_dead_letters`). Firing while any notification is dead
(``fenwei alerts dead-letters list``), lifted once none is (after ``... redrive``). Every
alert service has one (``notifications-dead-letters``, yellow); a rules file may declare its
own ``type = "dead_letters"`` rule to choose the level or escalation.
"""
from __future__ import annotations

from datetime import datetime

from .._levels import check_level
from ._base import Rule, RuleConfig, Signal

SUBJECT = "pipeline:notifications"
BUILTIN = {"id": "notifications-dead-letters", "type": "dead_letters",
           "kind": "pipeline.notifications", "title_zh": "通知投递失败（死信）",
           "title_en": "Notifications dead-lettered"}


class DeadLetterConfig(RuleConfig):
    level: str = "yellow"


class DeadLetterRule(Rule):
    config_model = DeadLetterConfig
    streaming = False          # neither streaming nor periodic: the service's tick runs it
    subject = SUBJECT

    def __init__(self, config: DeadLetterConfig, catalogue) -> None:
        super().__init__(config, catalogue)
        check_level(config.level)

    def signal(self, by_channel: dict[str, int], oldest: datetime | None,
               now: datetime) -> Signal:
        """The assessment from the dead rows' count per channel and the oldest one's time."""
        n = sum(by_channel.values())
        ev = {"dead": n, "by_channel": dict(sorted(by_channel.items())),
              "oldest": oldest.isoformat() if oldest else None}
        if not n:
            return Signal("clear", now, None, ev)
        ev["detail_zh"] = (f"{n} 条通知多次投递失败，已停止重试。请检查接收端，然后执行 "
                           "fenwei alerts dead-letters redrive --all 重新投递。")
        ev["detail_en"] = (f"{n} notifications gave up after their retries. Check the "
                           "receivers, then run fenwei alerts dead-letters redrive --all.")
        return Signal("firing", now, self.config.level, ev)


def builtin_rule(catalogue) -> DeadLetterRule:
    return DeadLetterRule(DeadLetterConfig.model_validate(BUILTIN), catalogue)


RULES = {"dead_letters": DeadLetterRule}
