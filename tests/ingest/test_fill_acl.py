"""Gap-fill requests behind the generated ACL: the ingest user publishes a station's fill
request, that station reads it, another station can neither read nor forge it."""
from __future__ import annotations

from core.wire import fill_topic

from .test_broker_acl import Client, _configured, _until


def test_only_the_ingest_publishes_fill_requests_only_their_station_reads_them(tmp_path):
    _, creds, broker = _configured(tmp_path)
    clients = []
    try:
        def client(user):
            c = Client(broker.port, user, creds[user])
            clients.append(c)
            return c
        ingest, a, b = client("ingest"), client("1462A"), client("1463A")
        own, other = fill_topic("xian", "air", "1462A"), fill_topic("xian", "air", "1463A")
        assert own == "fenwei/v1/xian/air/1462A/fill"
        assert not a.subscribe(own).is_failure
        b.subscribe(own)                          # granted or not, nothing may be delivered
        assert b.publish(own).is_failure          # a station cannot forge a request
        assert a.publish(other).is_failure
        assert not ingest.publish(own).is_failure
        assert not ingest.publish(other).is_failure
        assert _until(lambda: own in a.got)
        # barrier: once a second request has reached 1462A, anything the broker would have
        # sent 1463A for the first one would have arrived too
        assert not ingest.publish(own).is_failure
        assert _until(lambda: a.got.count(own) == 2)
        assert b.got == [] and a.got == [own, own]
    finally:
        for c in clients:
            c.close()
        broker.stop()
