"""The file of one cached clip: a WAV file any tool reads, cheap and strict to check.

A clip is mono, 16-bit PCM at :data:`~voiceguide.timing.timeline.SAMPLE_RATE`.
Why WAV: a clip can be inspected or played with any tool, and it has the
canonical 44-byte header (``RIFF`` / ``fmt `` / ``data``: what the
standard-library ``wave`` module writes when the frame count is known up front;
:func:`header` packs exactly those bytes itself, except that the RIFF size also
counts the checksum chunk). After the samples comes one more standard RIFF
chunk, ``vgck``: the CRC-32 of the sample bytes (12 bytes in all; WAV readers
skip chunks they do not know). That fixed layout lets the cache
(:mod:`voiceguide.speech.clipcache`) tell a clip's length from its first 44
bytes and its size alone (:func:`frames_from_header`), and check the samples as
it reads them (:func:`checked_samples`).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from voiceguide.audio import pcm
from voiceguide.timing.timeline import SAMPLE_RATE

_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
#: Bytes in a clip's header.
HEADER_SIZE = _HEADER.size  # 44
_CHECK = struct.Struct("<4sII")   # chunk id, chunk size (4), CRC-32 of the sample bytes
_CHECK_ID = b"vgck"
#: Bytes in the checksum chunk after the samples.
CHECK_SIZE = _CHECK.size  # 12


def file_size(frames: int) -> int:
    """The size in bytes of the file of a clip of ``frames`` frames."""
    return HEADER_SIZE + 2 * frames + CHECK_SIZE


def frames_from_header(header: bytes, size: int) -> int | None:
    """Frames declared by a canonical 44-byte header, or None if it is not one of ours
    or does not match the file's real ``size``."""
    if len(header) != HEADER_SIZE:
        return None
    (riff, riff_size, wave_id, fmt_id, fmt_size, fmt_tag, channels, rate,
     byte_rate, block_align, bits, data_id, data_size) = _HEADER.unpack(header)
    if (riff != b"RIFF" or wave_id != b"WAVE" or fmt_id != b"fmt " or fmt_size != 16
            or fmt_tag != 1 or channels != 1 or rate != SAMPLE_RATE or bits != 16
            or block_align != 2 or byte_rate != 2 * SAMPLE_RATE or data_id != b"data"):
        return None
    if (data_size % 2 or data_size != size - HEADER_SIZE - CHECK_SIZE
            or riff_size != size - 8):
        return None
    return data_size // 2


def header(frames: int) -> bytes:
    """The canonical 44-byte header of a clip with ``frames`` frames (the RIFF size
    counts the checksum chunk that follows the samples)."""
    size = 2 * frames
    return _HEADER.pack(b"RIFF", size + HEADER_SIZE + CHECK_SIZE - 8, b"WAVE", b"fmt ",
                        16, 1, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16, b"data", size)


def parts(data: np.ndarray) -> tuple[bytes, memoryview, bytes]:
    """The file of the clip ``data`` (from :func:`clip_samples`), in the order
    written: header, sample bytes, checksum chunk."""
    raw = memoryview(data).cast("B")
    return header(len(data)), raw, _CHECK.pack(_CHECK_ID, 4, zlib.crc32(raw))


def checked_samples(rest: bytes, frames: int) -> np.ndarray | None:
    """The samples in ``rest`` (the file after the header) if their checksum matches."""
    size = 2 * frames
    if len(rest) != size + CHECK_SIZE:
        return None
    chunk, length, crc = _CHECK.unpack(rest[size:])
    data = memoryview(rest)[:size]
    if chunk != _CHECK_ID or length != 4 or zlib.crc32(data) != crc:
        return None
    return pcm.from_bytes(data)


def clip_samples(samples: np.ndarray) -> np.ndarray:
    """``samples`` as a contiguous little-endian int16 array; ValueError if it is not
    1-D int16."""
    data = np.asarray(samples)
    if data.ndim != 1 or data.dtype != np.int16:
        raise ValueError("a clip must be a 1-D int16 array")
    return np.ascontiguousarray(data, dtype="<i2")
