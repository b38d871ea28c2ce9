"""Data segment text <-> Packet: header fields and the CP body."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

from core.flags import normalise

from ._errors import DecodeError, Reason
from ._model import CST, DATA_CNS, MAX_MN_LENGTH, NUMERIC_FIELDS, TIME_KEYS, Factor, Packet

_FORBIDDEN = frozenset(";,=&\r\n")
#: Uploads of these CNs carry factor data and must say when (DataTime); without factors the
#: same CNs are the platform's requests (HJ 212-2017: 2011/2021 start, 2031/2041/2051/2061
#: history with BeginTime/EndTime).
_DATED_CNS = frozenset([*DATA_CNS, "2021", "2041"])
_HISTORY_CNS = frozenset({"2031", "2041", "2051", "2061"})
#: ASCII decimal number, optional sign, fraction and exponent. Python's float() also takes
#: "1_000", full-width digits and surrounding blanks, which no HJ 212 device sends.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _bad(detail: str, field: str) -> DecodeError:
    return DecodeError(Reason.BAD_FIELD, detail, field=field)


def parse_segment(segment: str) -> Packet:
    """Parse a data segment (``QN=...;...;CP=&&...&&``); the CN is not checked here."""
    cp_at = segment.find("CP=&&")
    if cp_at < 0 or not segment.endswith("&&") or len(segment) < cp_at + 7:
        raise _bad("no CP=&&...&& body", "CP")
    if cp_at and segment[cp_at - 1] != ";":
        raise _bad("CP not preceded by ';'", "CP")
    body = segment[cp_at + 5 : -2]
    if "&&" in body:
        raise _bad("nested '&&' inside CP=&&...&&", "CP")
    counter = [0]
    packet = _packet_from_header(_split_pairs(segment[:cp_at], "header", counter))
    _parse_cp(body, packet, counter)
    packet.duplicates = counter[0]
    _check_times(packet)
    return packet


def _check_times(packet: Packet) -> None:
    """DataTime only on uploads (packets with factor data); history requests need a range."""
    if packet.data_time is not None or packet.cn not in _DATED_CNS:
        return
    if packet.factors:
        raise DecodeError(Reason.BAD_FIELD, f"CN={packet.cn} upload without DataTime",
                          field="DataTime", packet=packet)
    if packet.cn in _HISTORY_CNS:
        for key in ("BeginTime", "EndTime"):
            if key not in packet.cp:
                raise DecodeError(Reason.BAD_FIELD, f"CN={packet.cn} is neither an upload "
                                  f"(no DataTime) nor a history request (no {key})",
                                  field=key, packet=packet)
        if packet.begin_time > packet.end_time:  # type: ignore[operator]
            raise DecodeError(Reason.BAD_FIELD, f"BeginTime {packet.cp['BeginTime']} is after "
                              f"EndTime {packet.cp['EndTime']}", field="BeginTime",
                              packet=packet)


def _split_pairs(text: str, where: str, counter: list[int]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in text.split(";"):
        if item:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise _bad(f"{where} item {item[:40]!r} is not key=value", key or where)
            if _repeated(pairs.get(key), value, value, key, where, counter):
                continue
            pairs[key] = value
    return pairs


def _repeated(before: object, decoded: object, text: str, key: str, where: str,
              counter: list[int]) -> bool:
    """True (and counted) when ``key`` repeats the value it had; refused when it differs.

    ``before`` is ``(decoded, text)`` of the earlier occurrence, or None for a new key (the
    header passes its text for both).
    """
    if before is None:
        return False
    old, old_text = before if isinstance(before, tuple) else (before, before)
    if old != decoded:
        raise _bad(f"{key} repeated in the {where} with different values "
                   f"({old_text[:20]!r} then {text[:20]!r})", key)
    counter[0] += 1
    return True


def _packet_from_header(header: dict[str, str]) -> Packet:
    for key in ("ST", "CN", "MN"):
        if not header.get(key):
            raise _bad(f"header has no {key}", key)
    st, cn, mn = header.pop("ST"), header.pop("CN"), header.pop("MN")
    if len(mn) > MAX_MN_LENGTH:
        raise _bad(f"MN of {len(mn)} characters (at most {MAX_MN_LENGTH})", "MN")
    if not (st.isascii() and st.isdigit()):
        raise _bad(f"ST={st[:10]!r} is not numeric", "ST")
    if len(cn) != 4 or not (cn.isascii() and cn.isdigit()):
        raise _bad(f"CN={cn[:10]!r} is not 4 digits", "CN")
    qn = header.pop("QN", None)
    if qn is not None and not (qn.isascii() and qn.isdigit() and len(qn) <= 20):
        raise _bad(f"QN={qn[:24]!r} is not a timestamp", "QN")
    flag = _header_int(header, "Flag", 255)
    pnum, pno = _header_int(header, "PNUM", 9999), _header_int(header, "PNO", 9999)
    if (pnum is None) != (pno is None) or (pno is not None and not 1 <= pno <= pnum):
        raise _bad(f"PNUM={pnum} PNO={pno} inconsistent", "PNO")
    pw = header.pop("PW", "")
    return Packet(st, cn, mn, pw, qn, flag, pnum, pno, header_extra=header)


def _header_int(header: dict[str, str], key: str, maximum: int) -> int | None:
    text = header.pop(key, None)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > maximum:
        raise _bad(f"{key}={text[:10]!r} is not an integer 0..{maximum}", key)
    return int(text)


def _parse_cp(body: str, packet: Packet, counter: list[int]) -> None:
    factors, cp = packet.factors, packet.cp
    seen: dict[str, tuple[object, str]] = {}  # CP key -> (decoded value, text): repeats
    for group in body.split(";"):
        for item in group.split(","):
            if not item:
                continue
            key, sep, value = item.partition("=")
            code, dash, name = key.partition("-")
            if not sep or not code or (dash and not name):
                raise _bad(f"CP item {item[:40]!r} is not key=value", key or "CP")
            decoded = _decode_value(key, code if dash else None, name, value)
            if _repeated(seen.get(key), decoded, value, key, "CP", counter):
                continue
            seen[key] = (decoded, value)
            if dash:
                _set_factor_field(factors, code, name, decoded)
            elif key == "DataTime":
                packet.data_time = decoded  # type: ignore[assignment]
            else:
                cp[key] = value


def _decode_value(key: str, code: str | None, name: str, value: str) -> object:
    if code is None:
        if key == "DataTime":
            return parse_data_time(value)
        if key in TIME_KEYS:
            return parse_data_time(value, key)
        return value
    if name in NUMERIC_FIELDS and value:
        return _number(value, key)
    if name == "Flag":  # upper case from here on: a logger's "n" is N for every consumer
        return normalise(value)
    return value or None  # an empty value means "no value", e.g. while the instrument is down


def _set_factor_field(factors: dict[str, Factor], code: str, name: str, value: object) -> None:
    factor = factors.get(code)
    if factor is None:
        factor = factors[code] = Factor(code)
    if name == "Flag":
        factor.flag = value  # type: ignore[assignment]
    elif name not in NUMERIC_FIELDS:
        factor.extra[name] = value or ""  # type: ignore[assignment]
    elif value is not None:
        factor.values[name] = value  # type: ignore[assignment]


def _number(text: str, key: str) -> float:
    if _NUMBER.fullmatch(text) is None:
        raise _bad(f"{key}={text[:20]!r} is not a number (ASCII digits, sign, '.', exponent)",
                   key)
    value = float(text)
    if not math.isfinite(value):
        raise _bad(f"{key}={text[:20]!r} is not finite", key)
    return value


def parse_data_time(text: str, key: str = "DataTime") -> datetime:
    """``yyyyMMddHHmmss`` local time -> aware datetime in UTC+8."""
    if len(text) != 14 or not (text.isascii() and text.isdigit()):
        raise _bad(f"{key}={text[:20]!r} is not yyyyMMddHHmmss", key)
    try:
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                        int(text[10:12]), int(text[12:14]), tzinfo=CST)
    except ValueError:
        raise _bad(f"{key}={text!r} is not a valid time", key) from None


def format_data_time(value: datetime) -> str:
    """Aware datetime (any zone) or naive local time -> ``yyyyMMddHHmmss`` in UTC+8."""
    if value.tzinfo is not None:
        value = value.astimezone(CST)
    return f"{value.year:04d}{value.month:02d}{value.day:02d}{value.hour:02d}" \
           f"{value.minute:02d}{value.second:02d}"


def format_segment(packet: Packet) -> str:
    """Packet -> data segment text (header fields in the standard's order)."""
    parts = [] if packet.qn is None else [f"QN={_text(packet.qn)}"]
    parts += [f"ST={_text(packet.st)}", f"CN={_text(packet.cn)}",
              f"PW={_text(packet.pw)}", f"MN={_text(packet.mn)}"]
    if packet.flag is not None:
        parts.append(f"Flag={packet.flag}")
    if packet.pnum is not None:
        parts.append(f"PNUM={packet.pnum};PNO={packet.pno}")
    parts += [f"{_text(k)}={_text(v)}" for k, v in packet.header_extra.items()]
    return ";".join(parts) + ";CP=&&" + format_cp(packet) + "&&"


def format_cp(packet: Packet) -> str:
    groups = [] if packet.data_time is None else [f"DataTime={format_data_time(packet.data_time)}"]
    items = [f"{_text(k)}={_text(v)}" for k, v in packet.cp.items()]
    keys = list(packet.cp)
    if "BeginTime" in keys and keys.index("BeginTime") + 1 < len(keys) and \
            keys[keys.index("BeginTime") + 1] == "EndTime":  # one item, as the standard writes it
        at = keys.index("BeginTime")
        items[at : at + 2] = [",".join(items[at : at + 2])]
    groups += items
    groups += [format_factor(f) for f in packet.factors.values()]
    return ";".join(groups)


def format_factor(factor: Factor) -> str:
    code = _text(factor.code)
    if "-" in code or not code:
        raise ValueError(f"factor code {code!r} must be non-empty and contain no '-'")
    items = [f"{code}-{name}={format_number(v)}" for name, v in factor.values.items()]
    if factor.flag is not None:
        items.append(f"{code}-Flag={_text(factor.flag)}")
    items += [f"{code}-{_text(k)}={_text(v)}" for k, v in factor.extra.items()]
    return ",".join(items)


def format_number(value: float | int | str) -> str:
    """Shortest text that reads back as the same float, never in exponent form."""
    if isinstance(value, str):
        _number(value, "value")  # raises DecodeError (a ValueError) when not a number
        return value
    if isinstance(value, int):
        return str(int(value))  # int() also turns a bool into 0/1
    if not math.isfinite(value):
        raise ValueError(f"HJ 212 cannot carry {value!r}")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 4.0 -> "4", as loggers send it
    text = repr(float(value))
    return text if "e" not in text else format(Decimal(text), "f")


def _text(value: str) -> str:
    if not _FORBIDDEN.isdisjoint(value):
        raise ValueError(f"{value!r} contains a character HJ 212 uses as a separator")
    return value
