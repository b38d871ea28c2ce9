"""``fenwei alerts``: run the alert service and inspect its state."""
from __future__ import annotations

import json
import logging
import signal
import threading
import tomllib
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Alert platform: rules, alert lifecycle, notifications.",
                  no_args_is_help=True, add_completion=False)


def _merged_rules(paths: list[Path]) -> dict:
    """Several rules files as one: their [[rule]] tables in order; for the other keys (e.g.
    [escalation.<level>] tables) a later file adds to and overrides an earlier one."""
    from .errors import ConfigError
    out: dict = {"rule": []}
    for path in paths:
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"rules file {path}: {exc}") from exc
        out["rule"] += doc.pop("rule", [])
        for key, value in doc.items():
            if isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            else:
                out[key] = value
    return out


def _service(rules, recipients, state_url, extra_webhook=None):
    from ._config import AlertSettings
    from ._service import AlertService
    from .errors import ConfigError
    paths = list(rules or ())
    over = {k: v for k, v in (("rules_file", paths[0] if len(paths) == 1 else None),
                              ("recipients_file", recipients),
                              ("state_url", state_url)) if v is not None}
    try:
        merged = _merged_rules(paths) if len(paths) > 1 else None
        return AlertService(AlertSettings(**over), rules=merged, extra_webhook=extra_webhook)
    except ConfigError as exc:
        typer.echo(f"fenwei alerts: {exc}", err=True)
        raise typer.Exit(2) from None


def wire_shared_inputs(svc):
    """Give the rules that take shared inputs (``bind``) what the in-process wiring gives them:
    the audited ecological-flow target table in the service's state database and, when the
    service uses MQTT, the edge agents' status board (retained status messages). Call before
    ``svc.start()``. Returns the started board (stop it after the service) or None."""
    from .ecoflow import TargetStore
    from .rules.liveness import EdgeStatusBoard, bind_rules
    if not any(hasattr(r, "bind") for r in svc.rules.rules.values()):
        return None
    s = svc.settings
    board = EdgeStatusBoard(svc.clock).start(s.mqtt_url) if s.mqtt_enabled else None
    bind_rules(svc, targets=TargetStore(s.state_url, svc.cat), edge_status=board)
    return board


RulesOpt = typer.Option(None, "--rules", help="Rules file (TOML); repeat to combine several "
                                              "(e.g. the packaged air and river rules); "
                                              "default: the packaged air rules.")
RcptOpt = typer.Option(None, "--recipients", help="Recipients file (JSON).")
StateOpt = typer.Option(None, "--state-url", help="sqlite:///path or postgresql://...")


@app.command()
def run(rules: Optional[List[Path]] = RulesOpt, recipients: Optional[Path] = RcptOpt,
        state_url: Optional[str] = StateOpt,
        notify_webhook: Optional[str] = typer.Option(
            None, help="Catch-all exercise recipient receiving a copy of every notification.")
        ) -> None:
    """Run the alert service until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    svc = _service(rules, recipients, state_url, notify_webhook)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    board = wire_shared_inputs(svc)
    svc.start()
    if svc.subscriber is not None and not svc.subscriber.subscribed.wait(15):
        typer.echo("alerts: warning: readings subscription not confirmed yet", err=True)
    if board is not None and not board.subscribed.wait(15):
        typer.echo("alerts: warning: edge status subscription not confirmed yet", err=True)
    typer.echo("alerts: running", err=True)
    stop.wait()
    svc.stop()
    if board is not None:
        board.stop()
    typer.echo("alerts: stopped", err=True)


@app.command("list")
def list_alerts(state_url: Optional[str] = StateOpt, all_: bool = typer.Option(
        False, "--all", help="Include resolved and cancelled alerts.")) -> None:
    """List alerts (open ones by default)."""
    svc = _service(None, None, state_url)
    svc.migrate()
    for a in svc.alerts(open_only=not all_):
        typer.echo(f"{a['id']}  {a['state']:<12} {a['level'] or '-':<7} {a['rule_id']:<28} "
                   f"{a['subject']}")


@app.command("dead-letters")
def dead_letters(state_url: Optional[str] = StateOpt) -> None:
    """Notifications that could not be delivered (JSON lines)."""
    svc = _service(None, None, state_url)
    svc.migrate()
    for row in svc.dead_letters():
        typer.echo(json.dumps({k: row[k] for k in ("id", "idempotency_key", "channel", "target",
                                                   "attempts", "last_error")},
                              ensure_ascii=False))


@app.command()
def ack(alert_id: str, responder: str = typer.Option(..., help="Who acknowledges."),
        note: str = typer.Option("", help="Note for the audit log."),
        state_url: Optional[str] = StateOpt) -> None:
    """Acknowledge an alert."""
    svc = _service(None, None, state_url)
    svc.migrate()
    svc.acknowledge(alert_id, responder, note, via="cli")
    typer.echo(f"acknowledged {alert_id}")


@app.command("check")
def check(rules: Optional[List[Path]] = RulesOpt, recipients: Optional[Path] = RcptOpt) -> None:
    """Validate the rules and recipients files without I/O."""
    from core.catalogue import load_catalogue

    from ._config import load_rules, parse_rules
    from ._directory import load_directory
    from .errors import ConfigError
    cat = load_catalogue()
    paths = list(rules or ())
    try:
        rs = parse_rules(_merged_rules(paths), cat) if len(paths) > 1 else \
            load_rules(paths[0] if paths else None, cat)
        d = load_directory(recipients, cat)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"ok: {len(rs.rules)} rules, {len(d.by_id)} recipients")


if __name__ == "__main__":
    app()
