"""Wire format v1: MQTT topics and the JSON readings payload (see docs/wire-format.md)."""
from importlib import resources

from ._decode import MAX_PAYLOAD_BYTES, MAX_READINGS, REASONS, decode
from ._encode import CST, encode, iso, reading_dict
from ._model import Batch, Reading, Rejected
from ._period import format_period, parse_period
from ._topics import (FILL_FILTER, PREFIX, READINGS_FILTER, STATUS_FILTER, alerts_topic,
                      config_topic, fill_topic, parse_topic, readings_topic, status_topic)


def json_schema() -> dict:
    """The JSON Schema of the readings payload (this package's readings.schema.json)."""
    import json
    return json.loads(resources.files(__package__).joinpath("readings.schema.json").read_text())


__all__ = ["Batch", "CST", "FILL_FILTER", "MAX_PAYLOAD_BYTES", "MAX_READINGS", "PREFIX",
           "READINGS_FILTER", "REASONS", "Reading", "Rejected", "STATUS_FILTER", "alerts_topic",
           "config_topic", "decode", "encode", "fill_topic", "format_period", "iso",
           "json_schema", "parse_period", "parse_topic", "reading_dict", "readings_topic",
           "status_topic"]
