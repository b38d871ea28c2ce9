"""Routes serving the dashboard's files: a fixed list, so no path ever reaches the disk."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

DASHBOARD_DIR = Path(__file__).resolve().parent
# The copy an installed package carries (setup.py puts it there at build time), else the one
# `npm ci` (scripts/setup) installed in a source checkout.
ECHARTS_CANDIDATES = (DASHBOARD_DIR / "vendor" / "echarts" / "dist" / "echarts.min.js",
                      DASHBOARD_DIR / "node_modules" / "echarts" / "dist" / "echarts.min.js")
ECHARTS_JS = next((p for p in ECHARTS_CANDIDATES if p.is_file()), ECHARTS_CANDIDATES[-1])

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
ASSETS: dict[str, Path] = {
    name: DASHBOARD_DIR / name
    for name in ("index.html", "style.css", "app.js", "api.js", "aqi.js", "i18n.js", "map.js",
                 "charts.js", "alerts.js", "silences.js", "duty.js", "util.js", "explore.js",
                 "explorechart.js", "explorer.js")
}
ASSETS["vendor/echarts.min.js"] = ECHARTS_JS

# Everything comes from this origin: the page works offline and can reach nothing else.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'")

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


@router.get("")
def dashboard_redirect() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=308)


@router.get("/")
def dashboard_page() -> FileResponse:
    """The page itself; it holds no data, so it needs no key (the data calls do)."""
    return _file("index.html")


@router.get("/{name:path}")
def dashboard_asset(name: str) -> FileResponse:
    return _file(name)


def _file(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise HTTPException(404, f"no dashboard file {name!r}")
    if not path.is_file():
        raise HTTPException(404, f"dashboard file {name!r} is not installed: run scripts/setup")
    cache = "public, max-age=86400" if name.startswith("vendor/") else "no-cache"
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={
        "Cache-Control": cache, "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
