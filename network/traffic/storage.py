"""How a port's day of 5-minute samples is stored: one small blob per port per UTC day.

Each slot holds the octets that crossed the port in it, in and out, as a 16-bit code: a
float with a 6-bit exponent and a 10-bit mantissa (values below 2,048 exact, larger ones
within 1/2048 = 0.05 %), 0xFFFF for a slot with no data. Codes sort like the values they
stand for. Exact volume is kept beside the blob as the day's totals (bigint).

The blob is one format byte and the codes as two byte planes (every high byte, then every
low byte: the high bytes repeat and compress well), zlib-compressed when that saves a
quarter or more (idle ports, days with gaps; a busy port's noisy day stays raw).
A day at 300 s is 288 slots: 1,152 bytes before compression.
"""

import zlib

import numpy as np

GAP = 0xFFFF
MANTISSA_BITS = 10
_RAW, _ZLIB = 0, 1
_DAY_SECONDS = 86400


def encode_octets(octets: int) -> int:
    """The code of a slot's octet count (rounded to the nearest representable value)."""
    if octets < 2 << MANTISSA_BITS:
        return octets
    shift = octets.bit_length() - MANTISSA_BITS - 1
    mantissa = (octets + (1 << (shift - 1))) >> shift
    if mantissa >> (MANTISSA_BITS + 1):
        shift, mantissa = shift + 1, mantissa >> 1
    return ((shift + 1) << MANTISSA_BITS) | (mantissa - (1 << MANTISSA_BITS))


def _decode_all() -> np.ndarray:
    codes = np.arange(1 << 16, dtype=np.int64)
    exponent = codes >> MANTISSA_BITS
    mantissa = codes & ((1 << MANTISSA_BITS) - 1)
    scaled = np.ldexp((mantissa + (1 << MANTISSA_BITS)).astype(np.float64), exponent - 1)
    octets = np.where(exponent == 0, mantissa.astype(np.float64), scaled)
    octets[GAP] = np.nan
    return octets


# Every code's octets as float64 (exact: 11 significant bits), NaN for a gap: 512 KiB.
_OCTETS = _decode_all()


def decode_codes(codes: np.ndarray) -> np.ndarray:
    """Octets of each code as float64, NaN for a gap."""
    return _OCTETS[codes]


def slots_per_day(slot_seconds: int) -> int:
    return _DAY_SECONDS // slot_seconds


def empty_codes(slot_seconds: int) -> np.ndarray:
    """A day with no data yet: shape (2, slots), in then out."""
    return np.full((2, slots_per_day(slot_seconds)), GAP, dtype=np.uint16)


def pack(codes: np.ndarray) -> bytes:
    planes = np.concatenate([(codes >> 8).astype(np.uint8).ravel(), codes.astype(np.uint8).ravel()])
    raw = planes.tobytes()
    packed = zlib.compress(raw, 6)
    # Busy ports' noisy samples shrink by a tenth at most: not worth decompressing on every
    # read. Idle and part-empty days shrink to a fraction.
    return bytes([_ZLIB]) + packed if len(packed) < len(raw) * 3 // 4 else bytes([_RAW]) + raw


def planes_of(blob: bytes) -> bytes:
    """A stored day's two byte planes, uncompressed."""
    return zlib.decompress(blob[1:]) if blob[0] == _ZLIB else blob[1:]


def codes_of_planes(planes: np.ndarray) -> np.ndarray:
    """Codes of days given as rows of planes, shape (days, 4 * slots) -> (days, 2, slots)."""
    half = planes.shape[-1] // 2
    codes = (planes[..., :half].astype(np.uint16) << 8) | planes[..., half:]
    return codes.reshape(*planes.shape[:-1], 2, half // 2)


def unpack(blob: bytes) -> np.ndarray:
    """The codes of a stored day, shape (2, slots); its slot length is 86400 / slots."""
    return codes_of_planes(np.frombuffer(planes_of(blob), dtype=np.uint8))


def slot_seconds_of(codes: np.ndarray) -> int:
    return _DAY_SECONDS // codes.shape[-1]
