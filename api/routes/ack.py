"""The acknowledgement link carried in notifications (no API key: the token is the credential).

``GET /ack?token=`` only shows what the link is for and a button; link scanners in mail,
WeCom and DingTalk previews fetch links, so a GET changes nothing. ``POST /ack`` (the
button's form, or JSON ``{"token", "responder", "note"}``) acknowledges, once per token, for
the cities the token's recipient stands for. A forged, expired, used or superseded token is
403, an unknown alert 404, an alert no longer active 409.
"""
from __future__ import annotations

import json
from html import escape
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

router = APIRouter(tags=["alerts"])
MAX_FORM = 16 * 1024
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self'; frame-ancestors 'none'"}
_STYLE = ("body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}"
          "button{font-size:1.1em;padding:.4em 1.2em}input,textarea{width:100%}")


def _state(request: Request):
    svc = getattr(request.app.state, "alerts", None)
    if svc is None:
        raise HTTPException(503, "alert state is not configured on this server")
    return svc


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(html, status, headers=PAGE_HEADERS)


def _errors():
    from alerts.errors import BadToken, InvalidTransition, NotFound
    return ((BadToken, 403, "invalid acknowledgement link"), (NotFound, 404, "unknown alert"),
            (InvalidTransition, 409, "alert not active"))


def _fail(exc: Exception, as_json: bool):
    for cls, status, what in _errors():
        if isinstance(exc, cls):
            if as_json:
                return JSONResponse({"detail": f"{what}: {exc}"}, status)
            return _page("无法确认 · Cannot acknowledge",
                         f"<p>{escape(what)}: {escape(str(exc))}</p>", status)
    raise exc


@router.get("/ack", response_class=HTMLResponse,
            responses={403: {}, 404: {}, 409: {}})
def ack_page(token: str, request: Request):
    """A confirmation page for a notification's link: what is acknowledged, by whom, and a
    button that POSTs. Changes nothing."""
    svc = _state(request)
    try:
        alert, recipient = svc.check_token(token)
    except tuple(c for c, _, _ in _errors()) as exc:
        return _fail(exc, as_json=False)
    if alert["state"] not in ("active", "acknowledged") or not alert["open"]:
        return _page("无法确认 · Cannot acknowledge",
                     f"<p>alert {escape(alert['id'])} is {escape(alert['state'])}</p>", 409)
    cities = ", ".join(alert["cities"] or []) or "-"
    body = (f"<p><b>{escape(alert['kind'])}</b> · {escape(str(alert['level']))} · "
            f"{escape(alert['subject'])}<br>{escape(cities)}</p>"
            f"<p>状态 state: {escape(alert['state'])} · 接收方 recipient: {escape(recipient)}</p>"
            f'<form method="post" action="ack">'
            f'<input type="hidden" name="token" value="{escape(token)}">'
            f'<p><label>确认人 Responder <input name="responder" maxlength="100" required>'
            f'</label></p><p><label>备注 Note <textarea name="note" maxlength="2000">'
            f"</textarea></label></p>"
            f'<p><button type="submit">确认收到 Acknowledge</button></p></form>')
    return _page("确认预警 · Acknowledge alert", body)


async def _fields(request: Request) -> tuple[dict, bool]:
    """The posted fields (a form or JSON) and whether the caller speaks JSON."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise HTTPException(413, f"acknowledgement bodies are at most {MAX_FORM} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            raise HTTPException(422, "body is not JSON") from None
        if not isinstance(doc, dict):
            raise HTTPException(422, "body must be a JSON object")
        return doc, True
    form = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in form.items()}, False


@router.post("/ack", responses={403: {}, 404: {}, 409: {}, 413: {}, 422: {}})
async def ack_post(request: Request):
    """Acknowledge through a link's token (``token``, ``responder``, ``note``; a form or
    JSON). The token is spent: a second POST is 403."""
    from starlette.concurrency import run_in_threadpool
    fields, as_json = await _fields(request)
    svc = _state(request)
    token, responder = fields.get("token"), fields.get("responder") or "link"
    note = fields.get("note") or ""
    if not isinstance(token, str) or not token or not isinstance(responder, str) \
            or not isinstance(note, str):
        raise HTTPException(422, "token (a string) is required; responder and note are strings")
    try:
        out = await run_in_threadpool(svc.acknowledge_token, token, responder[:100].strip()
                                      or "link", note[:2000])
    except tuple(c for c, _, _ in _errors()) as exc:
        return _fail(exc, as_json)
    done = out.get("state") == "acknowledged"
    if as_json:
        return {"acknowledged": done, "alert_id": out["id"], "state": out["state"],
                "acknowledged_cities": out.get("acknowledged_cities")}
    msg = ("已确认，提醒已停止。 Acknowledged." if done else
           "已为本城市确认；其他城市尚未确认。 Acknowledged for your city; other cities "
           "have not yet.")
    return _page("已确认 · Acknowledged", f"<p>{escape(msg)}</p>")
