"""The edge agent: station hardware (HJ 212 loggers, SL 651 gauges) to MQTT, nothing lost.

>>> agent = EdgeAgent(load_config("edge/sample-config.toml")).start()   # doctest: +SKIP
>>> agent.ports, agent.stats["agent"]["published"]                      # doctest: +SKIP
>>> agent.stop()                                                        # doctest: +SKIP

See docs/services/edge.md.
"""
from ._agent import EdgeAgent
from ._config import (AgentConfig, DeviceConfig, FactorConfig, ListenerConfig, MqttConfig,
                      QcConfig, QueueConfig, load_config, parse_config)
from ._devices import Device, default_devices, device_password, device_table, mn_for
from ._queue import DurableQueue
from .errors import ConfigError, EdgeError, QueueFullError

__all__ = ["AgentConfig", "ConfigError", "Device", "DeviceConfig", "DurableQueue", "EdgeAgent",
           "EdgeError", "FactorConfig", "ListenerConfig", "MqttConfig", "QcConfig",
           "QueueConfig", "QueueFullError", "default_devices", "device_password", "device_table",
           "load_config",
           "mn_for", "parse_config"]
