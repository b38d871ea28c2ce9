"""Issue 16 item 14: the Wei and Fen control-section gauges named in DOMAIN.md section 2
(林家村 魏家堡 咸阳 临潼 华县 on the Wei, 河津 on the Fen) are real stations, not simulated."""
from __future__ import annotations

import pytest

REAL = {"linjiacun": "林家村", "weijiabao": "魏家堡", "xianyang-wei": "咸阳", "lintong": "临潼",
        "huaxian": "华县", "hejin": "河津"}


@pytest.mark.parametrize("station", sorted(REAL))
def test_real_wei_and_fen_gauges_are_not_simulated(catalogue, station):
    s = catalogue.station(station)
    assert (s.kind, s.name_zh, s.simulated) == ("hydro", REAL[station], False)


def test_every_wei_and_fen_control_section_gauge_is_real(catalogue):
    gauges = {catalogue.sections[sec].station for river in ("wei", "fen")
              for sec in catalogue.rivers[river].sections}
    assert gauges == set(REAL)


def test_generated_gauges_stay_simulated_and_not_national(catalogue):
    # the tributary gauges are not in DOMAIN.md's list: generated, so never national
    for sid in ("zhangjiashan", "zhuangtou"):
        s = catalogue.station(sid)
        assert s.simulated and not s.national
