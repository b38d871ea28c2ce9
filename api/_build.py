"""The API's composition root: :func:`build_app` builds every part from settings.

``fenwei api run``, the stack and the demo call it, each passing only what it swaps (the
demo: its store, catalogue and simulated clock). Alert state, API keys and eco-flow targets
are read and written through the state database, so any number of API processes can run
beside the alert service (which notifies, escalates and evaluates rules).
"""
from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any, Callable

from fastapi import FastAPI

from core.catalogue import Catalogue, load_catalogue
from core.settings import Settings, load_settings
from core.store import Store, open_store

from ._settings import ApiSettings
from .app import create_app
from .auth import KeyStore


def build_app(settings: Settings | None = None, *, clock: Any = None, store: Store | None = None,
              catalogue: Catalogue | None = None, extra_webhook: str | None = None,
              alert_settings=None, rules=None,
              api_settings: ApiSettings | None = None) -> FastAPI:
    """The API app on ``settings`` (shared settings; default :func:`core.settings.load_settings`).

    ``clock``: epoch seconds (``() -> float`` or ``core.clock.Clock``) or an alerts clock
    (``.now()`` an aware datetime); default the wall clock. ``store``/``catalogue``: opened
    from settings when not given (a store opened here is closed at shutdown).
    ``extra_webhook``: the catch-all recipient the alert service was given
    (``--notify-webhook``), so that notifications caused here reach it too.
    ``alert_settings``: the alert service's settings (default ``FENWEI_ALERTS_*``, on
    ``settings.state_url`` unless they name their own). ``rules``: the alert service's rule
    set (titles, regional prompts; default the file those settings name, else every packaged
    family, ``alerts.packaged_rules()``). Migrates the state database unless
    ``FENWEI_API_MIGRATE=false`` (then an old schema is refused: ``alerts.errors.ConfigError``).
    """
    from core.ecoflow import TargetStore

    settings = settings or load_settings()
    api_settings = api_settings or ApiSettings()
    epoch, alert_clock = _clocks(clock)
    cat = catalogue or load_catalogue()
    state = _alert_state(settings, alert_settings, rules, cat, alert_clock, extra_webhook,
                         migrate=api_settings.migrate)
    own_store = store is None
    if own_store:
        store = open_store(settings.store_url, cat, max_rows=settings.store_max_rows)
    app = create_app(store, cat, KeyStore(settings.state_url), alert_state=state,
                     targets=TargetStore(settings.state_url, cat), clock=epoch,
                     dead_letters_path=api_settings.dead_letters_path(settings.data_dir),
                     max_concurrent=api_settings.max_concurrent)
    _close_at_shutdown(app, state.close, store.close if own_store else None)
    return app


def _alert_state(settings, alert_settings, rules, cat, clock, extra_webhook, *, migrate: bool):
    """An AlertState with the alert service's settings, rules and recipients, migrated (or
    checked: ``migrate=False``)."""
    from alerts import AlertSettings, AlertState, packaged_rules
    alert_settings = alert_settings or AlertSettings()
    if alert_settings.state_url is None:
        alert_settings = alert_settings.model_copy(update={"state_url": settings.state_url})
    if rules is None and not alert_settings.rules_file:
        rules = packaged_rules()
    state = AlertState(alert_settings, catalogue=cat, rules=rules, clock=clock,
                       extra_webhook=extra_webhook)
    try:
        state.migrate(upgrade=migrate)
    except Exception:
        state.close()
        raise
    return state


def _close_at_shutdown(app: FastAPI, *closers) -> None:
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_):
        async with inner(app_) as value:
            yield value
        for close in closers:
            if close is not None:
                close()
    app.router.lifespan_context = lifespan


def _clocks(clock) -> tuple[Callable[[], float], Any]:
    """(epoch-seconds function, alerts clock) from a ``() -> float``, an object whose
    ``now()`` gives epoch seconds (``core.clock.Clock``) or an alerts clock (``now()`` gives
    an aware datetime)."""
    from alerts import FuncClock
    if clock is None:
        return time.time, None
    if hasattr(clock, "now"):
        if isinstance(clock.now(), datetime):
            return (lambda: clock.now().timestamp()), clock
        clock = clock.now
    return clock, FuncClock(clock)
