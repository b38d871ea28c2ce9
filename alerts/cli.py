"""``fenwei alerts``: run the alert service and inspect its state."""
from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Alert platform: rules, alert lifecycle, notifications.",
                  no_args_is_help=True, add_completion=False)


def _service(rules, recipients, state_url, extra_webhook=None):
    from ._config import AlertSettings
    from ._service import AlertService
    from .errors import ConfigError
    over = {k: v for k, v in (("rules_file", rules), ("recipients_file", recipients),
                              ("state_url", state_url)) if v is not None}
    try:
        return AlertService(AlertSettings(**over), extra_webhook=extra_webhook)
    except ConfigError as exc:
        typer.echo(f"fenwei alerts: {exc}", err=True)
        raise typer.Exit(2) from None


RulesOpt = typer.Option(None, "--rules", help="Rules file (TOML); default: packaged rules.")
RcptOpt = typer.Option(None, "--recipients", help="Recipients file (JSON).")
StateOpt = typer.Option(None, "--state-url", help="sqlite:///path or postgresql://...")


@app.command()
def run(rules: Optional[Path] = RulesOpt, recipients: Optional[Path] = RcptOpt,
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
    svc.start()
    if svc.subscriber is not None and not svc.subscriber.subscribed.wait(15):
        typer.echo("alerts: warning: readings subscription not confirmed yet", err=True)
    typer.echo("alerts: running", err=True)
    stop.wait()
    svc.stop()
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
def check(rules: Optional[Path] = RulesOpt, recipients: Optional[Path] = RcptOpt) -> None:
    """Validate the rules and recipients files without I/O."""
    from core.catalogue import load_catalogue

    from ._config import load_rules
    from ._directory import load_directory
    from .errors import ConfigError
    cat = load_catalogue()
    try:
        rs = load_rules(rules, cat)
        d = load_directory(recipients, cat)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"ok: {len(rs.rules)} rules, {len(d.by_id)} recipients")


if __name__ == "__main__":
    app()
