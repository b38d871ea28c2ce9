"""BCD numbers and times as SL 651-2014 writes them (HEX mode)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ._consts import CHINA_TZ
from ._errors import EncodeError, FrameError, Reason


def digits(raw: bytes, what: str) -> str:
    """The BCD digits of ``raw``; ``bad_bcd`` if a nibble is above 9."""
    text = raw.hex()
    if not text.isdigit():
        raise FrameError(Reason.BAD_BCD, f"{what}: {raw.hex().upper()} is not BCD")
    return text


def decode_number(raw: bytes, decimals: int, what: str = "value") -> float | None:
    """A signed BCD number; ``None`` when every byte is FF (invalid or missing)."""
    if raw.count(0xFF) == len(raw):
        return None
    text = raw.hex()
    negative = text[0] == "f"
    text = text[2:] if text.startswith("ff") else text[1:] if negative else text
    if not text.isdigit():
        raise FrameError(Reason.BAD_BCD, f"{what}: {raw.hex().upper()} is not BCD")
    number = int(text) / 10**decimals if decimals else float(int(text))
    return -number if negative else number


def encode_number(value: float | None, length: int, decimals: int) -> bytes:
    """``value`` as ``length`` BCD bytes; negatives get a leading FF (or an F nibble)."""
    if value is None:
        return b"\xff" * length
    scaled = round(abs(value) * 10**decimals)
    text, width = str(scaled), 2 * length
    if value >= 0 or scaled == 0:
        out = text.zfill(width)
    elif len(text) <= width - 2:
        out = "ff" + text.zfill(width - 2)
    else:
        out = "f" + text.zfill(width - 1)
    if len(out) > width:
        raise EncodeError(f"{value} does not fit {length} BCD bytes with {decimals} decimals")
    return bytes.fromhex(out)


def decode_time(raw: bytes, what: str) -> datetime:
    """yyMMddHHmm[ss] BCD as an aware China-time datetime."""
    text = digits(raw, what)
    parts = [int(text[i : i + 2]) for i in range(0, len(text), 2)]
    try:
        return datetime(2000 + parts[0], *parts[1:], tzinfo=CHINA_TZ)
    except ValueError as exc:
        raise FrameError(Reason.BAD_FIELD, f"{what}: {text} is not a date") from exc


def encode_time(when: datetime, seconds: bool = True) -> bytes:
    """yyMMddHHmm[ss] BCD; aware times are converted to +08:00, naive ones taken as China time."""
    if when.tzinfo is not None:
        when = when.astimezone(CHINA_TZ)
    if not 2000 <= when.year <= 2099:
        raise EncodeError(f"year {when.year} cannot be sent (yy after 2000)")
    fmt = "%y%m%d%H%M%S" if seconds else "%y%m%d%H%M"
    return bytes.fromhex(when.strftime(fmt))


def decode_step(raw: bytes) -> timedelta:
    """04 time step code: day, hour, minute in BCD."""
    text = digits(raw, "time step")
    if len(text) != 6:
        raise FrameError(Reason.BAD_FIELD, f"time step has {len(raw)} bytes, want 3")
    return timedelta(days=int(text[0:2]), hours=int(text[2:4]), minutes=int(text[4:6]))


def encode_step(step: timedelta) -> bytes:
    minutes, rest = divmod(int(step.total_seconds()), 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if rest or step <= timedelta(0) or days > 99:
        raise EncodeError(f"time step {step} is not a whole number of minutes in 1 min..99 days")
    return bytes.fromhex(f"{days:02d}{hours:02d}{minutes:02d}")
