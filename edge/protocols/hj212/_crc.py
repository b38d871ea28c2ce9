"""The HJ 212 CRC (not CRC-16/MODBUS).

Per byte: ``crc = (crc >> 8) ^ byte`` then eight reflected shifts with polynomial 0xA001.
Because ``(crc >> 8) ^ byte`` is always below 256, each byte is one table look-up.
Check value for b"123456789" is 0x2F80.
"""

from __future__ import annotations


def _table_entry(value: int) -> int:
    for _ in range(8):
        value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


_TABLE = tuple(_table_entry(i) for i in range(256))


def crc16(data: bytes) -> int:
    """HJ 212 CRC of ``data`` (the data segment, "QN=..." through the closing "&&")."""
    table = _TABLE
    crc = 0xFFFF
    for byte in data:
        crc = table[(crc >> 8) ^ byte]
    return crc


def swap_bytes(crc: int) -> int:
    """The CRC as sent by devices that put its two bytes the wrong way round."""
    return ((crc & 0xFF) << 8) | (crc >> 8)
