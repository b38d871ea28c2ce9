"""CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), as SL 651-2014 HEX frames use it."""

from __future__ import annotations


def _table() -> tuple[int, ...]:
    rows = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc16_modbus(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """Return the CRC-16/MODBUS of ``data``; frames send it high byte first."""
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
