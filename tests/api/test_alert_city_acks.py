"""The alert listing says which cities acknowledged a regional alert so far (the dashboard
hides the acknowledge button of a key whose cities are done)."""
from __future__ import annotations

from tests.api.test_ack_links import H, _prompt, env  # noqa: F401  (env: the fixture)


def _listed(client, tokens, alert_id) -> dict:
    r = client.get("/alerts", headers=H(tokens, "inspector"))
    assert r.status_code == 200, r.text
    (a,) = [a for a in r.json() if a["id"] == alert_id]
    return a


def test_listing_shows_the_cities_acknowledged_so_far(env):  # noqa: F811
    client, tokens, svc, _ = env
    a = _prompt(client, tokens)
    assert _listed(client, tokens, a["id"])["acknowledged_cities"] == []
    client.post(f"/alerts/{a['id']}/ack", headers=H(tokens, "xian"), json={"responder": "西安"})
    got = _listed(client, tokens, a["id"])
    assert (got["state"], got["acknowledged_cities"]) == ("active", ["xian"])
    one = client.get(f"/alerts/{a['id']}", headers=H(tokens, "inspector")).json()
    assert one["acknowledged_cities"] == ["xian"]
    for c in ("linfen", "luoyang"):
        client.post(f"/alerts/{a['id']}/ack", headers=H(tokens, c), json={"responder": c})
    got = _listed(client, tokens, a["id"])
    assert got["state"] == "acknowledged"
    assert sorted(got["acknowledged_cities"]) == ["linfen", "luoyang", "xian"]
