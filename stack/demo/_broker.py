"""The demo's embedded MQTT broker (amqtt, pure Python: enough for the demo only)."""
from __future__ import annotations

import logging

from amqtt.broker import Broker


def make_broker(port: int) -> Broker:
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}",
                                  "max_connections": 2000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                    {"allow_anonymous": True}},
    }
    return Broker(config)
