"""Settings of the alert service and the rules file.

Settings come from ``FENWEI_ALERTS_*`` variables (and the shared ``FENWEI_STATE_URL`` /
``FENWEI_MQTT_URL``). The rules file is TOML::

    retrospective_after = "30m"      # older observations make retrospective alerts

    [escalation.red]                 # per level: re-notify period and escalation ladder
    renotify_every = "15m"
    ladder = ["30m", "2h"]           # step 1 -> provincial bureaus, step 2 -> coordinator

    [[rule]]
    id = "pm25-station"
    type = "threshold"               # a key of alerts.rules.RULE_TYPES
    kind = "air.realtime"
    ...                              # the rule type's own fields
"""
from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import load_settings, mask_url

from ._levels import LEVELS
from .errors import ConfigError
from .rules import RULE_TYPES, Rule
from .rules._base import duration

PLACEHOLDER_SECRETS = {"", "dev-only-ack-secret", "changeme", "change-me", "secret"}


class AlertSettings(BaseSettings):
    """One settings class for the alert service (``FENWEI_ALERTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="FENWEI_ALERTS_", extra="ignore")

    state_url: str | None = None          # default: FENWEI_STATE_URL
    mqtt_url: str | None = None           # default: FENWEI_MQTT_URL
    mqtt_enabled: bool = True
    schedule_speed: float = 1.0           # clock seconds per real second (demo: sim speed)
    schedule_min_interval_s: float = 0.5  # no periodic rule runs more often (real seconds)
    rule_workers: int = 1                 # periodic rule passes run at once (one: in turn)
    share_group: str = "alerts"           # readings via $share/<group>/...; "" = plain topic
    rules_file: Path | None = None        # default: the packaged default_rules.toml
    recipients_file: Path | None = None   # default: the packaged recipients.json
    smtp_url: str = "smtp://127.0.0.1:25"
    smtp_from: str = "fenwei-alerts@localhost"
    ack_secret: str = "dev-only-ack-secret"
    ack_base_url: str | None = None
    environment: str = "development"
    cap_sender: str = "alerts@fenwei.example"
    retrospective_after: str = "30m"
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    lease_s: float = 30.0
    dispatch_batch: int = 200
    dispatch_workers: int = 16
    poll_interval_s: float = 0.2
    tick_interval_s: float = 30.0
    http_timeout_s: float = 5.0
    robot_rate_per_min: int = 20
    exercise: bool = False
    instance: str = ""
    catchall_exercise: bool = True

    @field_validator("max_attempts", "dispatch_batch", "dispatch_workers", "robot_rate_per_min")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    def resolved(self) -> "AlertSettings":
        """Fill the shared URLs from core settings and check secrets (raises ConfigError)."""
        core = None
        if self.state_url is None or self.mqtt_url is None:
            core = load_settings()
        upd: dict[str, Any] = {}
        if self.state_url is None:
            upd["state_url"] = core.state_url
        if self.mqtt_url is None:
            upd["mqtt_url"] = core.mqtt_url
        if not self.instance:
            upd["instance"] = f"{socket.gethostname()}-{os.getpid()}"
        out = self.model_copy(update=upd)
        duration(out.retrospective_after)
        if out.environment != "development" and out.ack_secret in PLACEHOLDER_SECRETS:
            raise ConfigError("FENWEI_ALERTS_ACK_SECRET: set a real secret outside development")
        return out

    def __repr__(self) -> str:
        return (f"AlertSettings(state_url={mask_url(self.state_url or '')!r}, "
                f"mqtt_url={mask_url(self.mqtt_url or '')!r}, smtp_url="
                f"{mask_url(self.smtp_url)!r}, ack_secret='***')")

    __str__ = __repr__


DEFAULT_ESCALATION: dict[str, dict[str, Any]] = {
    "blue": {"renotify_every": None, "ladder": []},
    "yellow": {"renotify_every": "2h", "ladder": ["4h"]},
    "orange": {"renotify_every": "1h", "ladder": ["1h", "4h"]},
    "red": {"renotify_every": "15m", "ladder": ["30m", "2h"]},
}


@dataclass(frozen=True)
class Escalation:
    renotify_every: timedelta | None
    ladder: tuple[timedelta, ...]


@dataclass
class RuleSet:
    rules: dict[str, Rule]
    escalation: dict[str, Escalation]
    retrospective_after: timedelta | None = None
    overrides: dict[str, dict[str, Escalation]] = field(default_factory=dict)

    def policy(self, rule_id: str, level: str) -> Escalation:
        return self.overrides.get(rule_id, {}).get(level) or self.escalation[level]

    @property
    def streaming(self) -> list:
        return [r for r in self.rules.values() if r.streaming]

    @property
    def periodic(self) -> list:
        return [r for r in self.rules.values() if not r.streaming]


def _escalation(table: dict, where: str) -> dict[str, Escalation]:
    out = {}
    for level, spec in table.items():
        if level not in LEVELS:
            raise ConfigError(f"{where}: unknown level {level!r}")
        try:
            every = spec.get("renotify_every")
            out[level] = Escalation(duration(every) if every else None,
                                    tuple(duration(x) for x in spec.get("ladder", [])))
        except (ValueError, AttributeError) as exc:
            raise ConfigError(f"{where}.{level}: {exc}") from None
    return out


def parse_rules(doc: dict, catalogue, source: str = "rules") -> RuleSet:
    """Build rules from a parsed rules document; ConfigError names the bad rule."""
    esc = _escalation(DEFAULT_ESCALATION, "defaults")
    esc.update(_escalation(doc.get("escalation", {}), f"{source}: escalation"))
    rules: dict[str, Rule] = {}
    overrides = {}
    for i, table in enumerate(doc.get("rule", [])):
        rid = table.get("id", f"#{i}")
        cls = RULE_TYPES.get(table.get("type", ""))
        if cls is None:
            raise ConfigError(f"{source}: rule {rid}: unknown type {table.get('type')!r} "
                              f"(known: {', '.join(sorted(RULE_TYPES))})")
        try:
            cfg = cls.config_model.model_validate(table)
            rule = cls(cfg, catalogue)
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"{source}: rule {rid}: {exc}") from None
        if rid in rules:
            raise ConfigError(f"{source}: rule id {rid!r} used twice")
        rules[rid] = rule
        if cfg.escalation:
            overrides[rid] = _escalation(cfg.escalation, f"{source}: rule {rid} escalation")
    retro = doc.get("retrospective_after")
    return RuleSet(rules, esc, duration(retro) if retro else None, overrides)


def load_rules(path: Path | str | None, catalogue) -> RuleSet:
    try:
        if path is None:
            text = resources.files(__package__).joinpath("data", "default_rules.toml").read_text(
                encoding="utf-8")
            source = "default_rules.toml"
        else:
            text, source = Path(path).read_text(encoding="utf-8"), str(path)
        doc = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"rules file {path}: {exc}") from exc
    return parse_rules(doc, catalogue, source)
