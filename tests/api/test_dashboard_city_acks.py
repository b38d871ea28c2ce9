"""The dashboard's acknowledge button on a regional alert acknowledged city by city."""
from __future__ import annotations

import json

import pytest

from tests.api.test_dashboard import _node, needs_node

REGIONAL = {"subject": "region:fenwei", "state": "active",
            "cities": ["xian", "xianyang", "linfen"]}


@needs_node
@pytest.mark.parametrize("me,acked,can", [
    ({"role": "city-team", "scope": "xian"}, [], True),
    ({"role": "city-team", "scope": "xian"}, ["xian"], False),
    ({"role": "city-team", "scope": "linfen"}, ["xian"], True),
    ({"role": "bureau", "scope": "Shaanxi"}, ["xian"], True),
    ({"role": "bureau", "scope": "Shaanxi"}, ["xian", "xianyang"], False),
    ({"role": "admin", "scope": None}, ["xian", "xianyang"], True),
], ids=["none-yet", "own-city-done", "other-city-done", "bureau-one-left",
        "bureau-province-done", "admin-one-left"])
def test_no_button_for_a_key_whose_cities_acknowledged(catalogue, me, acked, can):
    cat = {"cities": {k: {"province": c.province} for k, c in catalogue.cities.items()},
           "stations": {}, "sections": {}}
    alert = dict(REGIONAL, acknowledged_cities=acked)
    got = _node(f"""import {{ canAck }} from "./alerts.js";
        console.log(JSON.stringify(canAck({json.dumps(alert)}, {json.dumps(me)},
                                          {json.dumps(cat)})));""")
    assert got is can
