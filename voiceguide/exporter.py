"""Exporter: renderer → an audio file and its chapters, written atomically.

The format follows the file's extension. The audio and the chapters file
(``FILE.vtt``) are each written to a temporary file beside the target and renamed
into place only when complete, so an interrupted or failed export leaves no
partial file behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from voiceguide.atomic import atomic_path, write_text
from voiceguide.errors import InputError
from voiceguide.timeline import SAMPLE_RATE, Timeline, seconds

EXPORT_BLOCK = 65536    # frames per write: big blocks, fewer calls, still flat memory

#: extension → (libsndfile format, subtype)
FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def check_target(path: Path, force: bool) -> None:
    """Refuse an unknown extension, a missing folder, or an existing file without force."""
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: unknown audio format {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    for target in (path, chapters_path(path)):
        if target.exists() and not force:
            raise InputError(f"{target} already exists; use --force to overwrite it")


def chapters_path(path: Path) -> Path:
    """Where the chapters of ``path`` go: ``FILE.vtt`` beside it."""
    return path.with_name(path.name + ".vtt")


def write_audio(path: Path, blocks: Iterable[np.ndarray], total: int,
                progress: Callable[[int], None] | None = None) -> None:
    """Write the blocks to ``path`` atomically; ``progress(frames)`` after each block."""
    import soundfile

    fmt, subtype = FORMATS[path.suffix.lower()]
    with atomic_path(path) as tmp:
        with soundfile.SoundFile(tmp, "w", samplerate=SAMPLE_RATE, channels=1, format=fmt,
                                 subtype=subtype) as out:
            for block in blocks:
                # 16-bit formats get 16-bit samples: numpy converts far faster than
                # libsndfile does from float
                out.write(to_int16(block) if subtype == "PCM_16" else block)
                if progress:
                    progress(len(block))


def to_int16(block: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as 16-bit integers, rounded (``block`` is reused)."""
    np.clip(block, -1.0, 1.0, out=block)
    np.multiply(block, 32767.0, out=block)
    np.rint(block, out=block)
    return block.astype(np.int16)


def webvtt(timeline: Timeline) -> str:
    """The chapters as WebVTT: one cue per section, with its title."""
    lines = ["WEBVTT", "", f"NOTE {timeline.title}", ""]
    for number, section in enumerate(timeline.sections, start=1):
        lines += [str(number),
                  f"{_vtt_time(seconds(section.start))} --> {_vtt_time(seconds(section.end))}",
                  section.title, ""]
    return "\n".join(lines)


def write_chapters(path: Path, timeline: Timeline) -> Path:
    """Write ``FILE.vtt`` beside ``path`` atomically; return its path."""
    target = chapters_path(path)
    write_text(target, webvtt(timeline))
    return target


def _vtt_time(secs: float) -> str:
    millis = int(round(secs * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
