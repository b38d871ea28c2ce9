"""Model registry: versions, promotion only when better, incompatible artefacts refused."""
import json

import pytest
import sklearn

from forecasting import ModelIncompatible, Registry, RegistryError


class Tiny:
    def __init__(self, x):
        self.x = x


def _save(reg, score, x=1):
    return reg.save("air", Tiny(x), {"backtest": {"rmse": score}, "training": {"start": "a"}})


def test_save_load_and_metadata(tmp_path):
    reg = Registry(tmp_path)
    v = _save(reg, 10.0, x=7)
    assert reg.versions("air") == [v] and reg.current_version("air") is None
    with pytest.raises(RegistryError, match="no current air model"):
        reg.load("air")
    reg.promote("air", v)
    model, meta = reg.load("air")
    assert model.x == 7
    assert meta["version"] == v and meta["libraries"]["sklearn"] == sklearn.__version__
    assert set(meta["libraries"]) >= {"sklearn", "numpy", "pandas", "joblib", "python"}


@pytest.mark.parametrize("first, second, promoted", [
    (10.0, 9.0, True), (10.0, 10.0, False), (10.0, 12.0, False)],
    ids=["better-replaces", "tie-keeps", "worse-keeps"])
def test_candidate_replaces_current_only_when_better(tmp_path, first, second, promoted):
    reg = Registry(tmp_path)
    v1 = _save(reg, first)
    assert reg.consider("air", v1, "rmse")  # nothing in service yet
    v2 = _save(reg, second)
    assert reg.consider("air", v2, "rmse") is promoted
    assert reg.current_version("air") == (v2 if promoted else v1)


def test_fair_comparison_uses_the_current_score_given(tmp_path):
    reg = Registry(tmp_path)
    reg.consider("air", _save(reg, 5.0), "rmse")
    v2 = _save(reg, 9.0)
    assert reg.consider("air", v2, "rmse", current_score=11.0)  # current did worse there


def _tamper(reg, version, sklearn_version):
    path = reg.root / "air" / version / "meta.json"
    meta = json.loads(path.read_text())
    meta["libraries"]["sklearn"] = sklearn_version
    path.write_text(json.dumps(meta))


def test_incompatible_sklearn_fails_clearly(tmp_path):
    reg = Registry(tmp_path)
    v = _save(reg, 1.0)
    reg.promote("air", v)
    _tamper(reg, v, "0.24.2")
    with pytest.raises(ModelIncompatible) as err:
        reg.load("air")
    msg = str(err.value)
    assert "0.24.2" in msg and sklearn.__version__ in msg and "retrain" in msg


def test_service_falls_back_to_baseline_on_incompatible_model(small, tmp_path, caplog):
    svc, panel, fb, model = small
    from datetime import datetime

    from core.timeutil import CST
    from forecasting import BASELINE_ID, ForecastService
    reg = Registry(tmp_path)
    v = reg.save("air", model, {"backtest": {"rmse_day1_model": 1.0}})
    reg.promote("air", v)
    _tamper(reg, v, "0.24.2")
    s2 = ForecastService(svc.store, reg, catalogue=svc.cat, cities=svc.cities)
    res = s2.issue(datetime(2026, 11, 20, 6, tzinfo=CST), write=False)
    assert res["model_id"] == BASELINE_ID
    assert "different library versions" in caplog.text
