"""``fenwei stack up`` stops source first: every service but ingest is told to stop at once
(none feeds another), ingest only after the edge agent has drained into it."""
from __future__ import annotations

import threading
from pathlib import Path

from stack.supervisor import ORDER, Stack


class FakeService:
    def __init__(self, name: str, events: list) -> None:
        self.name, self.events = name, events

    def alive(self) -> bool:
        return True

    def signal_stop(self) -> None:
        self.events.append(("signal", self.name))

    def terminate(self, timeout: float = 60.0) -> None:
        self.events.append(("stopped", self.name))


def _stack(tmp_path: Path, events: list) -> Stack:
    st = Stack.__new__(Stack)          # no servers: only the stop sequence is under test
    st.order = list(ORDER)
    st.services = {n: FakeService(n, events) for n in ORDER}
    st.stop_event = threading.Event()
    st.sim = None
    st.logs = tmp_path
    return st


def test_down_signals_every_service_but_ingest_before_waiting_and_ingest_last(tmp_path):
    events: list = []
    assert _stack(tmp_path, events).down() == 0
    others = [n for n in ORDER if n != "ingest"]
    signals = [i for i, e in enumerate(events) if e[0] == "signal"]
    waits = [i for i, e in enumerate(events) if e[0] == "stopped"]
    # all five told to stop before the first wait: their drains overlap
    assert sorted(events[i][1] for i in signals) == sorted(others)
    assert max(signals) < min(waits)
    # ingest is neither signalled early nor stopped before the edge agent has stopped
    assert ("signal", "ingest") not in events
    assert events[-1] == ("stopped", "ingest")
    assert events.index(("stopped", "edge")) < events.index(("stopped", "ingest"))
    # the phases are logged for whoever asks where a replay's end went
    log = (tmp_path / "stack.log").read_text()
    assert "stopping services" in log and "services stopped" in log
