"""``fenwei alerts``: run the alert service and inspect its state."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Alert platform: rules, alert lifecycle, notifications.",
                  no_args_is_help=True, add_completion=False)


def merged_rules(paths: list[Path]) -> dict:
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
        merged = merged_rules(paths) if len(paths) > 1 else None
        return AlertService(AlertSettings(**over), rules=merged, extra_webhook=extra_webhook)
    except ConfigError as exc:
        typer.echo(f"fenwei alerts: {exc}", err=True)
        raise typer.Exit(2) from None


RulesOpt = typer.Option(None, "--rules", help="Rules file (TOML); repeat to combine several "
                                              "(e.g. the packaged air and river rules); "
                                              "default: the packaged air rules.")
RcptOpt = typer.Option(None, "--recipients", help="Recipients file (JSON).")
StateOpt = typer.Option(None, "--state-url", help="sqlite:///path or postgresql://...")


@app.command("list")
def list_alerts(state_url: Optional[str] = StateOpt, all_: bool = typer.Option(
        False, "--all", help="Include resolved and cancelled alerts.")) -> None:
    """List alerts (open ones by default)."""
    svc = _service(None, None, state_url)
    svc.migrate()
    for a in svc.alerts(open_only=not all_):
        typer.echo(f"{a['id']}  {a['state']:<12} {a['level'] or '-':<7} {a['rule_id']:<28} "
                   f"{a['subject']}")


dead_app = typer.Typer(help="Notifications that gave up after their retries: list them, "
                             "send them again.", add_completion=False)
app.add_typer(dead_app, name="dead-letters")


@dead_app.callback(invoke_without_command=True)
def dead_letters(ctx: typer.Context, state_url: Optional[str] = StateOpt) -> None:
    """Notifications that could not be delivered (JSON lines; ``list`` is the default)."""
    if ctx.invoked_subcommand is None:
        _list_dead(state_url)
    else:
        ctx.obj = {"state_url": state_url}


def _state_url(ctx: typer.Context, state_url: Optional[str]) -> Optional[str]:
    return state_url or (ctx.obj or {}).get("state_url")


def _list_dead(state_url: Optional[str]) -> None:
    from .channels._base import mask_text
    svc = _service(None, None, state_url)
    svc.migrate()
    for row in svc.dead_letters():
        out = {k: row[k] for k in ("id", "idempotency_key", "alert_id", "recipient_id",
                                   "channel", "target", "attempts", "last_error")}
        out["target"] = mask_text(out["target"])          # rows written before masking
        out["last_error"] = mask_text(out["last_error"] or "") or None
        typer.echo(json.dumps(out, ensure_ascii=False))


@dead_app.command("list")
def dead_letters_list(ctx: typer.Context, state_url: Optional[str] = StateOpt) -> None:
    """Dead notifications, one JSON line each (URL credentials masked)."""
    _list_dead(_state_url(ctx, state_url))


@dead_app.command("redrive")
def dead_letters_redrive(
        ctx: typer.Context,
        ids: Optional[List[int]] = typer.Option(None, "--id", help="A dead notification's id "
                                                                   "(repeat for several)."),
        all_: bool = typer.Option(False, "--all", help="Every dead notification."),
        by: str = typer.Option("cli", "--by", help="Who redrives (for the audit log)."),
        state_url: Optional[str] = StateOpt) -> None:
    """Send dead notifications again (back to pending, attempts reset, same idempotency
    key); the running service delivers them and lifts the operators' alert once none is
    dead."""
    if bool(ids) == all_:
        typer.echo("fenwei alerts dead-letters redrive: give --id N (repeatable) or --all",
                   err=True)
        raise typer.Exit(2)
    svc = _service(None, None, _state_url(ctx, state_url))
    svc.migrate()
    done = svc.redrive(None if all_ else ids, actor=by)
    missing = sorted(set(ids or ()) - set(done))
    typer.echo(f"redriven {len(done)}: {' '.join(map(str, done)) or '-'}")
    if missing:
        typer.echo(f"not dead (or unknown): {' '.join(map(str, missing))}", err=True)
        raise typer.Exit(1)


@app.command()
def ack(alert_id: str, responder: str = typer.Option(..., help="Who acknowledges."),
        note: str = typer.Option("", help="Note for the audit log."),
        state_url: Optional[str] = StateOpt) -> None:
    """Acknowledge an alert."""
    svc = _service(None, None, state_url)
    svc.migrate()
    svc.acknowledge(alert_id, responder, note, via="cli")
    typer.echo(f"acknowledged {alert_id}")


silence_app = typer.Typer(help="Silences (maintenance windows): notifications of matching "
                                "alerts are held, and sent when the silence ends if the alert "
                                "is still active.", add_completion=False, no_args_is_help=True)
app.add_typer(silence_app, name="silence")


@silence_app.command("add")
def silence_add(
        reason: str = typer.Option(..., help="Why (kept in the audit log)."),
        by: str = typer.Option(..., "--by", help="Author."),
        rule: Optional[str] = typer.Option(None, help="Rule id (* globs)."),
        kind: Optional[str] = typer.Option(None, help="Alert kind, e.g. 'air.realtime' or "
                                                      "'liveness.*'."),
        city: Optional[str] = typer.Option(None, help="City slug (any of the alert's)."),
        station: Optional[str] = typer.Option(None, help="Station id."),
        section: Optional[str] = typer.Option(None, help="River section id."),
        level: Optional[str] = typer.Option(None, help="yellow, orange, red ..."),
        subject: Optional[str] = typer.Option(None, help="city:x, station:x, section:x ..."),
        starts: Optional[str] = typer.Option(None, help="ISO 8601 (default now; without an "
                                                        "offset China Standard Time)."),
        ends: Optional[str] = typer.Option(None, help="ISO 8601 end; or --duration."),
        duration: str = typer.Option("2h", help="Length when --ends is not given."),
        state_url: Optional[str] = StateOpt) -> None:
    """Add a silence; prints its id."""
    from .rules._base import duration as parse
    svc = _service(None, None, state_url)
    svc.migrate()
    t0 = _when(starts) or svc.clock.now()
    t1 = _when(ends) or t0 + parse(duration)
    sid = svc.silence(rule_id=rule, subject=subject, kind=kind, city=city, station=station,
                      section=section, level=level, starts=t0, ends=t1, by=by, reason=reason)
    typer.echo(sid)


def _when(text: Optional[str]):
    if not text:
        return None
    from datetime import datetime

    from core.timeutil import CST
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=CST)


@silence_app.command("list")
def silence_list(all_: bool = typer.Option(False, "--all", help="Include ended silences."),
                 state_url: Optional[str] = StateOpt) -> None:
    """Silences, one JSON line each (newest first)."""
    svc = _service(None, None, state_url)
    svc.migrate()
    for s in svc.silences(active_only=not all_):
        typer.echo(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                               for k, v in s.items()}, ensure_ascii=False))


@silence_app.command("expire")
def silence_expire(silence_id: str, by: str = typer.Option(..., "--by", help="Who."),
                   state_url: Optional[str] = StateOpt) -> None:
    """End a silence now; held notifications go out at the service's next tick."""
    from .errors import InvalidTransition, NotFound
    svc = _service(None, None, state_url)
    svc.migrate()
    try:
        svc.expire_silence(silence_id, by)
    except (NotFound, InvalidTransition) as exc:
        typer.echo(f"fenwei alerts silence expire: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"expired {silence_id}")


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
        rs = parse_rules(merged_rules(paths), cat) if len(paths) > 1 else \
            load_rules(paths[0] if paths else None, cat)
        d = load_directory(recipients, cat)
    except ConfigError as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"ok: {len(rs.rules)} rules, {len(d.by_id)} recipients")


if __name__ == "__main__":
    app()


@app.command("duty")
def duty(team: Optional[str] = typer.Option(None, "--team", help="A team (recipient id); "
                                                                  "default every team with a "
                                                                  "duty plan."),
         at: Optional[str] = typer.Option(None, "--at", help="ISO 8601 time (without an "
                                                             "offset: CST); default now."),
         recipients: Optional[Path] = RcptOpt, state_url: Optional[str] = StateOpt) -> None:
    """Who is on duty (one JSON line per team), from the recipients file's duty plans."""
    from datetime import datetime

    from core.timeutil import CST

    from .errors import NotFound
    svc = _service(None, recipients, state_url)
    try:
        when = datetime.fromisoformat(at) if at else None
    except ValueError:
        typer.echo(f"fenwei alerts duty: --at {at!r} is not an ISO 8601 time", err=True)
        raise typer.Exit(2) from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=CST)
    try:
        for row in svc.duty(team, when):
            typer.echo(json.dumps(row, ensure_ascii=False))
    except NotFound as exc:
        typer.echo(f"fenwei alerts duty: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("bulletin")
def bulletin(kind: str = typer.Argument(..., help="daily, monday, monthly or yearly"),
             period: str = typer.Argument(..., help="daily: the CST day (YYYY-MM-DD); "
                                                    "monday: the Monday; monthly: YYYY-MM; "
                                                    "yearly: YYYY"),
             fmt: str = typer.Option("md", "--format", help="md, json, csv or pdf"),
             lang: str = typer.Option("zh", "--lang", help="zh or en"),
             city: Optional[List[str]] = typer.Option(None, "--city", help="daily: a city "
                                                                           "(repeat)"),
             out: Optional[Path] = typer.Option(None, "--out", help="Write here (default: "
                                                                   "standard output; pdf "
                                                                   "needs --out)."),
             state_url: Optional[str] = StateOpt) -> None:
    """Build a bulletin now from the store (FENWEI_STORE_URL), as the service sends it."""
    if kind not in ("daily", "monday", "monthly", "yearly") or \
            fmt not in ("md", "json", "csv", "pdf") or lang not in ("zh", "en"):
        typer.echo("fenwei alerts bulletin: kind daily|monday|monthly|yearly, --format "
                   "md|json|csv|pdf, --lang zh|en", err=True)
        raise typer.Exit(2)
    if fmt == "pdf" and out is None:
        typer.echo("fenwei alerts bulletin: a PDF needs --out FILE", err=True)
        raise typer.Exit(2)
    svc = _service(None, None, state_url)
    svc.migrate()
    try:
        b = svc.bulletin(kind, period, cities=list(city or []) or None)
    except ValueError as exc:
        typer.echo(f"fenwei alerts bulletin: {exc}", err=True)
        raise typer.Exit(2) from None
    data = {"md": lambda: b.markdown(lang).encode("utf-8"),
            "json": lambda: json.dumps(b.as_json(), ensure_ascii=False).encode("utf-8"),
            "csv": b.csv, "pdf": lambda: b.pdf(lang)}[fmt]()
    if out is None:
        typer.echo(data.decode("utf-8-sig"))
    else:
        out.write_bytes(data)
