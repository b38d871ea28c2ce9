"""The benchmark runs and reports the figures the issue asks for."""
from alerts.bench import run_bench


def test_bench_reports_p99_and_dispatch_rate():
    out = run_bench()
    assert out["alerts_measured"] == out["alerts_expected"]
    assert out["p99_s"] < 1.0
    assert out["dispatch_per_s"] >= 200
