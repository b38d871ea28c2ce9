"""``fenwei warnings``: commands for forecasters (``grade``, issue 16; ``hindcast``, issue 18).

``fenwei warnings grade --hourly FILE.csv [--grading 2024|2019] [--city SLUG] [--issued T]
--json`` grades an hourly file with the ``air_warning`` rule's own grader (the packaged rule's
configuration, or ``--rules FILE``'s): same gradings, city triggers, gap merging and evidence.
Exit status 0 with the JSON object; 2 with a message on stderr when the input is unusable.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Optional

import typer

from ._hourly import HourlyInputError, cst, hourly_series, parse_issued, read_hourly

app = typer.Typer(help="Grade hourly AQI or pollutant series against the warning gradings.",
                  no_args_is_help=True)



@app.callback()
def _group() -> None:
    """Commands for forecasters: grade an hourly series as the warning rules do."""


#: short names accepted by --grading, besides the ids in gradings.toml
GRADING_ALIASES = {"2024": "hdq-2024-6", "2019": "unified-2019"}


def _fail(msg: str) -> None:
    typer.echo(f"fenwei warnings grade: {msg}", err=True)
    raise typer.Exit(2)


def _rule_config(rules_file: Path | None) -> dict:
    """The first ``air_warning`` rule of ``rules_file`` (default: the packaged rules)."""
    if rules_file is None:
        from alerts import packaged_rules
        doc = packaged_rules()
    else:
        try:
            doc = tomllib.loads(rules_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            _fail(f"--rules {rules_file}: {exc}")
    rule = next((r for r in doc.get("rule", []) if r.get("type") == "air_warning"), None)
    if rule is None:
        _fail(f"--rules {rules_file}: no air_warning rule")
    return rule


def make_grader_for(grading: str, city: str, rules_file: Path | None = None):
    """The rule's grader (``make_grader``) with ``grading`` in place of the configured one."""
    from core.catalogue import load_catalogue

    from ..rules.air_warning import AirWarningConfig, make_grader
    cat = load_catalogue()
    if city and city not in cat.cities:
        _fail(f"--city {city!r}: unknown city (known: {', '.join(sorted(cat.cities))})")
    rule = _rule_config(rules_file)
    keep = {k: v for k, v in rule.items() if k in AirWarningConfig.model_fields}
    if grading:
        keep["grading"] = GRADING_ALIASES.get(grading, grading)
    try:
        return make_grader(AirWarningConfig.model_validate(keep), cat)
    except ValueError as exc:        # pydantic's ValidationError and unknown gradings
        _fail(str(exc))


def result(series, grader, city: str) -> dict:
    """The command's JSON object from the rule's assessment of ``series``."""
    now = series.issue_time
    a = grader.assess(series, city or "file", now)
    ev = a.evidence
    level = a.grade.level
    return {
        "level": level or "none",
        "criteria": ev.get("criterion"),
        "onset": cst(ev.get("onset")), "end": cst(ev.get("end")), "lead_h": ev.get("lead_h"),
        "peak_aqi": ev.get("peak_aqi"), "primary": ev.get("primary"),
        "response": {"zh": ev.get("response_zh"), "en": ev.get("response_en")} if level
        else None,
        "grading": grader.for_city(city).id if city else grader.grading.id,
        "city": city or None, "issued": cst(now),
        "windows": {"first_end": cst(ev["aqi"]["start"]) if "aqi" in ev else None,
                    "count": len(ev["aqi"]["values"]) if "aqi" in ev else 0,
                    "lower_bound": series.partial},
        "missing_pollutants": list(series.missing),
    }


@app.command("grade")
def grade_cmd(
    hourly: Path = typer.Option(..., "--hourly", help="CSV: time (CST, hourly) and aqi "
                                "(24 h window ending that hour) or pm25 pm10 so2 no2 co o3."),
    grading: str = typer.Option("", "--grading", help="2024 (default), 2019 or a grading id."),
    city: str = typer.Option("", "--city", help="City slug: adds the city's stricter triggers."),
    issued: Optional[str] = typer.Option(None, "--issued",
                                         help="Issue time (ISO, CST unless offset); "
                                              "default the first hour. lead_h is from it."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Rules TOML whose air_warning "
                                         "rule to use (default: the packaged rules)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Grade an hourly series as the air_warning rule grades a forecast."""
    grader = make_grader_for(grading, city, rules)
    try:
        series = hourly_series(read_hourly(hourly), city=city, issued=parse_issued(issued),
                               source=hourly.name)
    except HourlyInputError as exc:
        _fail(f"{hourly}: {exc}")
    out = result(series, grader, city)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    if out["level"] == "none":
        typer.echo(f"none ({out['grading']}): no criterion met")
    else:
        typer.echo(f"{out['level']} ({out['grading']}): {out['criteria']}; onset {out['onset']}, "
                   f"end {out['end']}, lead {out['lead_h']} h")


def _when(value: str, opt: str):
    try:
        return parse_issued(value)
    except HourlyInputError:
        _fail(f"{opt} {value!r} is not an ISO date-time")


@app.command("hindcast")
def hindcast_cmd(
    city: str = typer.Option(..., "--city", help="City slug."),
    start: str = typer.Option(..., "--start", help="First day (ISO, CST unless offset)."),
    end: str = typer.Option(..., "--end", help="End of the period (exclusive)."),
    source: str = typer.Option("observed", "--source",
                               help="observed (perfect forecasts: the observed next 96 h) or "
                                    "forecast (the model's own forecast issued each day)."),
    grading: str = typer.Option("", "--grading", help="2024 (default), 2019 or a grading id."),
    issue_hour: int = typer.Option(0, "--issue-hour", min=0, max=23,
                                   help="Daily issue time, hour CST (forecasts issue at 00)."),
    train_start: Optional[str] = typer.Option(None, "--train-start", help="--source forecast: "
                                              "first hour of training history (default: "
                                              "400 days before --start)."),
    met: str = typer.Option("none", "--met", help="--source forecast: none, or observed "
                            "(observed weather as a perfect-prognosis stand-in)."),
    rules: Optional[Path] = typer.Option(None, "--rules", help="Rules TOML whose air_warning "
                                         "rule to use (default: the packaged rules)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store URL (default "
                                        "FENWEI_STORE_URL)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list."),
) -> None:
    """The warnings the air_warning rule would have issued over a stored history: the rule's
    grader run at each day's issue time with the level then in force (holding, lifting)."""
    from core.settings import load_settings
    from core.store import open_store

    from ._hindcast import hindcast, issue_times, observed_forecasts
    if source not in ("observed", "forecast"):
        _fail(f"--source {source!r}: use observed or forecast")
    if met not in ("none", "observed"):
        _fail(f"--met {met!r}: use none or observed")
    t0, t1 = _when(start, "--start"), _when(end, "--end")
    if t1 <= t0:
        _fail("--end must be after --start")
    grader = make_grader_for(grading, city, rules)
    st = open_store(store or load_settings().store_url)
    issues = issue_times(t0, t1, issue_hour)
    if source == "observed":
        forecasts = observed_forecasts(st, city, issues)
    else:
        from forecasting import issued_forecasts
        made = issued_forecasts(st, city, issues, train_end=t0, met=met, catalogue=st.cat,
                                train_start=_when(train_start, "--train-start")
                                if train_start else None)
        forecasts = made.get
    spans = hindcast(grader, city, issues, forecasts)
    for s in spans:
        s.update(city=city, source=source, grading=grader.for_city(city).id)
    if as_json:
        typer.echo(json.dumps(spans, ensure_ascii=False))
        return
    for s in spans:
        typer.echo(f"{s['level']:<6} issued {s['issued']}  onset {s['onset']}  end {s['end']}  "
                   f"lifted {s['lifted']}  ({s['criteria']})")
    if not spans:
        typer.echo("no warning")
