"""CRC-16/MODBUS against check values worked out independently of the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.protocols.sl651 import crc16_modbus

VECTORS = Path(__file__).parents[2] / "data/field-protocols/field-protocol-examples.json"


def bitwise_crc(data: bytes) -> int:
    """Textbook bit loop: init FFFF, xor byte into the low byte, shift right, xor A001 on carry."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            carry = crc & 1
            crc >>= 1
            if carry:
                crc ^= 0xA001
    return crc


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (b"123456789", 0x4B37),  # catalogue check value of CRC-16/MODBUS
        (b"", 0xFFFF),  # init value, nothing processed
        (b"\x00", 0x40BF),  # worked by hand: FFFF^00, eight shifts
        (b"\x01\x03\x00\x00\x00\x01", 0x0A84),  # Modbus "read 1 holding register": sent 84 0A
    ],
    ids=["check-123456789", "empty", "one-zero-byte", "modbus-read-request"],
)
def test_check_values(data, want):
    assert bitwise_crc(data) == want
    assert crc16_modbus(data) == want


def test_table_matches_bit_loop_for_every_single_byte_and_pairs():
    for a in range(256):
        assert crc16_modbus(bytes([a])) == bitwise_crc(bytes([a]))
        assert crc16_modbus(bytes([a, 255 - a])) == bitwise_crc(bytes([a, 255 - a]))


def test_vector_crcs_with_the_bit_loop():
    """The CRC field of every good SL651 vector is the bit-loop CRC of the bytes before it."""
    for vector in json.loads(VECTORS.read_text()):
        if vector["protocol"] != "SL651":
            continue
        raw = bytes.fromhex(vector["hex_or_text"])
        matches = bitwise_crc(raw[:-2]) == int.from_bytes(raw[-2:], "big")
        assert matches == vector["crc_ok"], vector["notes"][:40]
        assert crc16_modbus(raw[:-2]) == bitwise_crc(raw[:-2])


def test_accepts_bytearray_and_memoryview():
    data = bytearray(b"123456789")
    assert crc16_modbus(data) == crc16_modbus(memoryview(data)) == 0x4B37
