"""Exporter: renderer → an audio file and its chapters and captions, as one unit.

The format follows the file's extension. The audio and its WebVTT file
(``FILE.vtt``: a chapter cue per section and a caption per spoken line) are both
written to temporary files beside the target and renamed into place only when
both are complete; if either fails (an error, a full disk,
Ctrl-C, SIGTERM) neither is left, and no temporary file either. Temporary files of
exports that died (``.*.part`` older than an hour) are removed by the next export
into that folder. Two exports to the same file cannot run at once (a lock), and a
file made meanwhile by someone else is never replaced without ``--force``. New files
are private (0600).

The audio carries tags (title, routine, voice, date) and, where the format has them,
one chapter per section, so a phone's player shows the exercise names: ID3 ``CHAP``
and ``CTOC`` frames in MP3 (and in a WAV's ``id3`` chunk), ``CHAPTER001=`` /
``CHAPTER001NAME=`` Vorbis comments in FLAC and Ogg. They are written into the
temporary file, before it is renamed: a failure leaves nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import glob
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from voiceguide.atomic import (PART_SUFFIX, move_into_place, private_dir, remove_stale_parts,
                               sync, temporary_path)
from voiceguide import signals
from voiceguide.audio import pcm
from voiceguide.errors import InputError, StorageError, safe_line
from voiceguide.timing.timeline import SAMPLE_RATE, EventKind, Timeline, seconds

#: The most a plain WAV (RIFF) file can hold; beyond it, RF64 is written.
RIFF_LIMIT = 0xFFFFFFFF

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
        if target.exists() and not target.is_file():
            raise InputError(f"{target} is not a regular file; choose another name")
        if os.path.lexists(target) and not force:
            dangling = " (a link to a file that does not exist)" if not target.exists() else ""
            raise InputError(f"{target} already exists{dangling}; use --force to overwrite it")


def chapters_path(path: Path) -> Path:
    """Where the chapters of ``path`` go: ``FILE.vtt`` beside it."""
    return path.with_name(path.name + ".vtt")


def audio_format(path: Path, total: int) -> tuple[str, str]:
    """(libsndfile format, subtype) for ``path`` holding ``total`` frames: a WAV too big
    for RIFF's 4 GB is written as RF64."""
    fmt, subtype = FORMATS[path.suffix.lower()]
    if fmt == "WAV" and 44 + 2 * total > RIFF_LIMIT:
        fmt = "RF64"
    return fmt, subtype


def _write_samples(tmp: str, fmt: tuple[str, str], blocks: Iterable[np.ndarray],
                   progress: Callable[[int], None] | None) -> None:
    import soundfile

    with soundfile.SoundFile(tmp, "w", samplerate=SAMPLE_RATE, channels=1, format=fmt[0],
                             subtype=fmt[1]) as out:
        for block in blocks:
            # 16-bit formats get 16-bit samples: numpy converts far faster than
            # libsndfile does from float
            out.write(pcm.to_int16(block) if fmt[1] == "PCM_16" else block)
            if progress:
                progress(len(block))


def export(path: Path, blocks: Iterable[np.ndarray], timeline: Timeline, force: bool = False,
           progress: Callable[[int], None] | None = None,
           voice: str | None = None) -> tuple[Path, Path]:
    """Write the audio (tagged, with chapters) and ``FILE.vtt`` as one unit (see the
    module docstring); return both paths. ``voice`` is named in the tags. A failure
    to write is a :class:`StorageError` naming the file."""
    from mutagen import MutagenError

    check_target(path, force)
    chapters = chapters_path(path)
    remove_stale_parts(path.parent)
    with export_lock(path):
        check_target(path, force)  # again: another export may have finished meanwhile
        parts: list[str] = []
        try:
            parts += [temporary_path(path), temporary_path(chapters)]
            fmt = audio_format(path, timeline.total_samples)
            _write_samples(parts[0], fmt, blocks, progress)
            write_tags(parts[0], fmt[0], timeline, voice)
            Path(parts[1]).write_text(webvtt(timeline), encoding="utf-8")
            for part in parts:
                sync(part)
            _commit(list(zip(parts, (path, chapters))), replace=force)
        except FileExistsError as err:   # the target appeared after the check
            raise InputError(f"{err.filename2 or path} was just made by another program; "
                             f"use --force to overwrite it") from None
        except (OSError, RuntimeError, MutagenError) as err:
            raise StorageError(f"cannot write {path}: {_cause(err, path)}") from None
        finally:
            # every temporary file of this target, even one a signal interrupted between
            # its creation and its listing: under the lock, they are all this export's
            for part in [*path.parent.glob(f".{glob.escape(path.name)}.*{PART_SUFFIX}"),
                         *path.parent.glob(f".{glob.escape(chapters.name)}.*{PART_SUFFIX}")]:
                with contextlib.suppress(OSError):
                    os.unlink(part)
    return path, chapters


def tag_text(text: str) -> str:
    """A title as one safe line for a tag or a chapter: no control characters or line
    breaks, spaces collapsed."""
    return " ".join(safe_line(text).split()) or "-"


def tags(timeline: Timeline, voice: str | None, day: datetime.date | None = None) -> dict:
    """The tags of an export: title, routine, voice and date (ISO), all safe text."""
    return {"title": tag_text(timeline.title), "routine": tag_text(timeline.routine),
            "voice": tag_text(voice or "default"),
            "date": (day or datetime.date.today()).isoformat()}


def chapters(timeline: Timeline) -> list[tuple[int, int, str]]:
    """(start ms, end ms, safe title) of every section: the embedded chapters."""
    return [(_ms(section.start), _ms(section.end), tag_text(section.title))
            for section in timeline.sections]


def _ms(samples: int) -> int:
    return int(round(seconds(samples) * 1000))


def write_tags(tmp: str, fmt: str, timeline: Timeline, voice: str | None) -> None:
    """Tag the audio file ``tmp`` (libsndfile format ``fmt``) with :func:`tags` and
    :func:`chapters`. An RF64 WAV (over 4 GB) is left untagged: mutagen cannot
    read it, and its ``.vtt`` holds the chapters."""
    values, marks = tags(timeline, voice), chapters(timeline)
    if fmt in ("FLAC", "OGG"):
        from mutagen.flac import FLAC
        from mutagen.oggvorbis import OggVorbis

        audio = (FLAC if fmt == "FLAC" else OggVorbis)(tmp)
        if audio.tags is None:
            audio.add_tags()
        for key, value in _vorbis_comments(values, marks).items():
            audio.tags[key] = value
        audio.save()
    elif fmt in ("MP3", "WAV"):
        from mutagen.mp3 import MP3
        from mutagen.wave import WAVE

        audio = (MP3 if fmt == "MP3" else WAVE)(tmp)
        if audio.tags is None:
            audio.add_tags()
        for frame in _id3_frames(values, marks):
            audio.tags.add(frame)
        audio.save()


def _vorbis_comments(values: dict, marks: list[tuple[int, int, str]]) -> dict[str, str]:
    """Vorbis comments: TITLE, ALBUM (the routine's title, so players group exports),
    ROUTINE, VOICE, DATE, and ``CHAPTERnnn`` / ``CHAPTERnnnNAME`` per section."""
    comments = {"TITLE": values["title"], "ALBUM": values["title"], "ARTIST": "voiceguide",
                "ROUTINE": values["routine"], "VOICE": values["voice"], "DATE": values["date"]}
    for number, (start, _end, title) in enumerate(marks, start=1):
        comments[f"CHAPTER{number:03d}"] = _vtt_time(start / 1000)
        comments[f"CHAPTER{number:03d}NAME"] = title
    return comments


def _id3_frames(values: dict, marks: list[tuple[int, int, str]]) -> list:
    """ID3 frames: TIT2, TALB, TPE1, TDRC, TXXX ROUTINE and VOICE, a ``CHAP`` frame per
    section (its title in TIT2) and a top-level, ordered ``CTOC`` listing them."""
    from mutagen.id3 import CHAP, CTOC, TALB, TDRC, TIT2, TPE1, TXXX, CTOCFlags

    utf8 = 3
    ids = [f"chp{number}" for number in range(1, len(marks) + 1)]
    return [
        TIT2(encoding=utf8, text=[values["title"]]),
        TALB(encoding=utf8, text=[values["title"]]),
        TPE1(encoding=utf8, text=["voiceguide"]),
        TDRC(encoding=utf8, text=[values["date"]]),
        TXXX(encoding=utf8, desc="ROUTINE", text=[values["routine"]]),
        TXXX(encoding=utf8, desc="VOICE", text=[values["voice"]]),
        CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
             child_element_ids=ids, sub_frames=[TIT2(encoding=utf8, text=[values["title"]])]),
        *[CHAP(element_id=cid, start_time=start, end_time=end,
               sub_frames=[TIT2(encoding=utf8, text=[title])])
          for cid, (start, end, title) in zip(ids, marks)],
    ]


def _cause(err: BaseException, path: Path) -> str:
    """The cause of an OSError or a libsndfile error, on one line (libsndfile only says
    "System error" when the disk is full, so free space is looked at then)."""
    if getattr(err, "strerror", None):
        return err.strerror
    with contextlib.suppress(OSError):
        free = os.statvfs(path.parent)
        if free.f_bavail * free.f_frsize < 64 * 1024:
            return os.strerror(errno.ENOSPC)
    lines = str(err).strip().splitlines()
    return lines[-1] if lines else type(err).__name__


def _commit(moves: list[tuple[str, Path]], replace: bool) -> None:
    """Rename every temporary file onto its target; if one fails, remove the ones
    already placed, so either all are there or none."""
    placed: list[Path] = []
    try:
        for tmp, target in moves:
            move_into_place(tmp, target, replace)
            placed.append(target)
    except BaseException:
        for target in placed:
            with contextlib.suppress(OSError):
                os.unlink(target)
        raise


@contextlib.contextmanager
def export_lock(path: Path) -> Iterator[None]:
    """Hold ``.FILE.lock`` beside ``path`` for the block; a second export to the same
    file meanwhile is refused. (Without ``fcntl``, on Windows, no lock is taken.)

    The lock is taken with Ctrl-C and the stopping signals held back, so one that
    comes while it is being taken still finds it removed as the export ends."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = path.with_name(f".{path.name}.lock")
    private_dir(lock.parent)
    fd = None
    try:
        with signals.deferred():   # a Ctrl-C now comes once fd says the lock is ours
            fd = _take_lock(lock, path, fcntl)
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)


def _take_lock(lock: Path, path: Path, fcntl) -> int:
    """Open and lock ``lock``; :class:`StorageError` if another export holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(f"{path}: another export to this file is running; "
                               f"try again when it is done") from None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                return fd  # still the lock file: not removed by the export that just ended
        except FileNotFoundError:
            pass
        os.close(fd)


def webvtt(timeline: Timeline) -> str:
    """The chapters and captions as WebVTT, cues in order of their start.

    A chapter cue per section (``chapter-N``, its title, placed at the top with
    ``line:0``) and a caption cue per spoken line (``line-N``, its text, from the
    start to the end of its speech event; a check-in's caption ends where its
    pause begins). Texts are made safe by :func:`vtt_text`.
    """
    cues = [(section.start, 0, f"chapter-{number}", section.start, section.end,
             " line:0", section.title)
            for number, section in enumerate(timeline.sections, start=1)]
    cues += [(start, 1, f"line-{number}", start, end, "", text)
             for number, (start, end, text) in enumerate(spoken_lines(timeline), start=1)]
    lines = ["WEBVTT", "", f"NOTE {vtt_text(timeline.title)}", ""]
    for _, _, name, start, end, settings, text in sorted(cues, key=lambda c: c[:2]):
        lines += [name, f"{_vtt_time(seconds(start))} --> {_vtt_time(seconds(end))}{settings}",
                  vtt_text(text), ""]
    return "\n".join(lines)


def spoken_lines(timeline: Timeline) -> list[tuple[int, int, str]]:
    """(start sample, end sample, text) of every line the timeline speaks: its
    speech events, and the question of each check-in (without its pause)."""
    return [(event.start, event.end - event.pause, event.text) for event in timeline.events
            if event.kind in (EventKind.SPEECH, EventKind.CHECKIN) and event.text]


def vtt_text(text: str) -> str:
    """A title as one safe line of cue text: no control characters or line breaks
    (which would end the cue), no ``-->`` (which would start a timing line)."""
    line = " ".join(safe_line(text).split())
    while "-->" in line:
        line = line.replace("-->", "->")
    return line.replace("<", "‹").replace(">", "›").replace("&", "and") or "-"


def _vtt_time(secs: float) -> str:
    millis = int(round(secs * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
