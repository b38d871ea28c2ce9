"""Settings of the alert service and the rules file.

Settings come from ``FENWEI_ALERTS_*`` variables (and the shared ``FENWEI_STATE_URL``,
``FENWEI_MQTT_URL`` and ``FENWEI_MQTT_CA_FILE``, ``_CERT_FILE``, ``_KEY_FILE``). The rules
file is TOML::

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

import logging
import os
import secrets
import socket
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import SettingsError, load_settings, mask_url

from ._levels import LEVELS
from .errors import ConfigError
from .rules import RULE_TYPES, PeriodicRule, Rule
from .rules._base import duration

PLACEHOLDER_SECRETS = {"", "dev-only-ack-secret", "changeme", "change-me", "secret"}
log = logging.getLogger(__name__)
# with no acknowledgement secret set, a drill (``exercise``) or a development process signs
# its links with this one: random per process, so nobody outside it can forge a link (and a
# link signed by one process does not verify in another: set FENWEI_ALERTS_ACK_SECRET, or
# have the launcher share one per run, when the API and the alert service are separate)
_PROCESS_ACK_SECRET = secrets.token_urlsafe(32)


MATCH_LABELS = ("rule", "kind", "subject", "city", "station", "section", "level")


class InhibitRule(BaseModel):
    """``source`` alerts (open, active or acknowledged) hold the notifications of ``target``
    alerts that share every label of ``equal`` (``city``: a city in common). Matchers are
    label = value (``*`` globs), on rule, kind, subject, city, station, section and level."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    source: dict[str, str]
    target: dict[str, str]
    equal: list[str] = []

    @field_validator("source", "target")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(v) - set(MATCH_LABELS))
        if bad:
            raise ValueError(f"unknown labels {bad} (known: {', '.join(MATCH_LABELS)})")
        return v

    @field_validator("equal")
    @classmethod
    def _equal(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - set(MATCH_LABELS))
        if bad:
            raise ValueError(f"unknown labels {bad} (known: {', '.join(MATCH_LABELS)})")
        return v


class AlertSettings(BaseSettings):
    """One settings class for the alert service (``FENWEI_ALERTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="FENWEI_ALERTS_", extra="ignore")

    state_url: str | None = None          # default: FENWEI_STATE_URL
    mqtt_url: str | None = None           # default: FENWEI_MQTT_URL
    mqtt_enabled: bool = True
    mqtt_ca_file: Path | None = None      # default: FENWEI_MQTT_CA_FILE (and the two below)
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    schedule_speed: float = 1.0           # clock seconds per real second (demo: sim speed)
    schedule_min_interval_s: float = 0.5  # no periodic rule runs more often (real seconds)
    rule_workers: int = 1                 # periodic rule passes run at once (one: in turn)
    share_group: str = "alerts"           # readings via $share/<group>/...; "" = plain topic
    # the readings subscription's MQTT client id: a persistent session under this id keeps
    # readings published while the service restarts. Default "fenwei-alerts-<instance>"
    # when instance is set, else "fenwei-alerts-<share_group>" (one process per group: give
    # each process of a group its own instance or client_id)
    client_id: str = ""
    intake_retry_initial_s: float = 0.5   # a batch of readings that failed is retried ...
    intake_retry_max_s: float = 30.0      # ... with backoff up to this (never dropped)
    rules_file: Path | None = None        # default: the packaged default_rules.toml
    recipients_file: Path | None = None   # default: the packaged recipients.json
    smtp_url: str = "smtp://127.0.0.1:25"
    smtp_from: str = "fenwei-alerts@localhost"
    smtp_ca_file: Path | None = None      # CA bundle verifying the SMTP server (default: the
                                          # system's); smtps:// and smtp+starttls:// verify
    ack_secret: str = ""                  # required unless exercise or development (random)
    ack_base_url: str | None = None
    link_base_url: str | None = None      # the API's public address: links to alerts in
                                          # notifications (a city warning's regional one)
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
    broadcast_exercises: bool = False     # a whole-system drill: its own dashboards get it
    instance: str = ""
    catchall_exercise: bool = True
    # grouping (docs/configuration.md): notifications of one recipient, channel and group key
    # go out as one message; the first of a group waits group_wait (clock time) for the
    # others, a group that sent within group_interval sends again only after it. "0s": off
    group_by: list[str] = ["rule", "city", "level"]
    group_wait: str = "30s"
    group_interval: str = "5m"
    group_channels: list[str] = ["webhook", "email", "sms", "wecom", "dingtalk"]
    group_catchall: bool = False          # the catch-all gets one message per key (audit copy)
    # inhibition: an open source alert holds the notifications of matching target alerts
    inhibit: list[InhibitRule] = []
    # bulletins (docs/services/alerts.md "Reports"): sent at these CST times of day (daily:
    # every day, yesterday's summary; monday: Mondays; monthly: the 1st; yearly: 1 January)
    # to the recipients whose "reports" name them; checked every report_check_every of
    # clock time; one whose time passed more than report_late_max ago is not sent late
    reports_enabled: bool = True
    report_times: dict[str, str] = {"daily": "08:00", "monday": "09:00", "monthly": "09:00",
                                    "yearly": "09:00"}
    report_check_every: str = "1m"
    report_late_max: str = "1d"
    report_font: Path | None = None       # a font with Chinese glyphs (default: a system one)
    report_warning_kinds: list[str] = ["air.warning", "air.regional"]

    @field_validator("group_wait", "group_interval", "report_check_every", "report_late_max")
    @classmethod
    def _duration(cls, v: str) -> str:
        duration(v)
        return v

    @field_validator("report_times")
    @classmethod
    def _report_times(cls, v: dict[str, str]) -> dict[str, str]:
        from datetime import time
        kinds = ("daily", "monday", "monthly", "yearly")
        bad = sorted(set(v) - set(kinds))
        if bad:
            raise ValueError(f"unknown bulletins {bad} (known: {', '.join(kinds)})")
        for t in v.values():
            time.fromisoformat(t)
        return {**{"daily": "08:00", "monday": "09:00", "monthly": "09:00",
                   "yearly": "09:00"}, **v}

    @field_validator("group_by")
    @classmethod
    def _group_labels(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - set(MATCH_LABELS))
        if bad:
            raise ValueError(f"unknown labels {bad} (known: {', '.join(MATCH_LABELS)})")
        return v

    @field_validator("max_attempts", "dispatch_batch", "dispatch_workers", "robot_rate_per_min")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    def resolved(self) -> "AlertSettings":
        """Fill the shared URLs and MQTT TLS files from core settings and check secrets
        (raises ConfigError)."""
        tls = ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
        core = None
        if self.state_url is None or self.mqtt_url is None or \
                not any(getattr(self, n) for n in tls):
            core = load_settings()
        upd: dict[str, Any] = {}
        if self.state_url is None:
            upd["state_url"] = core.state_url
        if self.mqtt_url is None:
            upd["mqtt_url"] = core.mqtt_url
        if not any(getattr(self, n) for n in tls):
            upd.update({n: getattr(core, n) for n in tls})
        if not self.client_id:   # before the instance is made up: stable across restarts
            upd["client_id"] = f"fenwei-alerts-{self.instance or self.share_group or 'readings'}"
        if not self.instance:
            upd["instance"] = f"{socket.gethostname()}-{os.getpid()}"
        out = self.model_copy(update=upd)
        duration(out.retrospective_after)
        return out._with_ack_secret()

    def _with_ack_secret(self) -> "AlertSettings":
        """No known default secret, ever: a placeholder is refused outside a drill and
        development; there it is replaced by this process's random secret."""
        if self.ack_secret not in PLACEHOLDER_SECRETS:
            return self
        if not (self.exercise or self.environment == "development"):
            raise ConfigError("FENWEI_ALERTS_ACK_SECRET: set a real secret (at least 16 "
                              f"characters) outside development (environment = "
                              f"{self.environment!r})")
        if not self.exercise:
            log.warning("no acknowledgement secret set (FENWEI_ALERTS_ACK_SECRET): links are "
                        "signed with a random per-process secret and verify only in this "
                        "process")
        return self.model_copy(update={"ack_secret": _PROCESS_ACK_SECRET})

    @classmethod
    def from_config(cls, config) -> "AlertSettings":
        """The ``[alerts]`` section of a :class:`core.config.Config` (file, FENWEI_ALERTS_*)
        over the shared ``[fenwei]`` URLs and TLS files; raises ValidationError or
        SettingsError. ``resolved()`` still fills ``instance``."""
        shared = config.settings
        base = {"state_url": shared.state_url, "mqtt_url": shared.mqtt_url,
                "mqtt_ca_file": shared.mqtt_ca_file, "mqtt_cert_file": shared.mqtt_cert_file,
                "mqtt_key_file": shared.mqtt_key_file}
        out = cls.model_validate({**base, **config.values("alerts")})
        try:
            duration(out.retrospective_after)
        except ValueError as exc:
            raise SettingsError(f"[alerts] retrospective_after: {exc}") from None
        if out.environment != "development" and not out.exercise and \
                out.ack_secret in PLACEHOLDER_SECRETS:
            raise SettingsError("[alerts] ack_secret: set a real secret outside development")
        return out

    def servers(self) -> list[str]:
        """The servers this section names (``fenwei config check`` tries them): the state
        database, the broker, and the SMTP server when ``smtp_url`` is set or a recipient
        has an e-mail channel."""
        out = [u for u in (self.state_url, self.mqtt_url if self.mqtt_enabled else None) if u]
        if "smtp_url" in self.model_fields_set or self._email_recipients():
            out.append(self.smtp_url)
        return out

    def _email_recipients(self) -> bool:
        from core.catalogue import load_catalogue

        from ._directory import load_directory
        try:
            directory = load_directory(self.recipients_file, load_catalogue())
        except ConfigError:   # the service says so at start; the check is about servers
            return False
        return any(ch.type == "email" for r in directory.by_id.values() for ch in r.channels)

    def __repr__(self) -> str:
        return (f"AlertSettings(state_url={mask_url(self.state_url or '')!r}, "
                f"mqtt_url={mask_url(self.mqtt_url or '')!r}, smtp_url="
                f"{mask_url(self.smtp_url)!r}, ack_secret='***')")

    __str__ = __repr__


# per level: the repeat interval of reminders to the unacknowledged, and the escalation ladder
DEFAULT_ESCALATION: dict[str, dict[str, Any]] = {
    "blue": {"renotify_every": None, "ladder": []},
    "yellow": {"renotify_every": "6h", "ladder": ["4h"]},
    "orange": {"renotify_every": "2h", "ladder": ["1h", "4h"]},
    "red": {"renotify_every": "30m", "ladder": ["30m", "2h"]},
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
        return [r for r in self.rules.values() if isinstance(r, PeriodicRule)]


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
