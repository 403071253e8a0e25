"""The on-disk cache of synthesized speech clips.

Each clip is a mono, 16-bit PCM WAV file at :data:`~voiceguide.timing.timeline.SAMPLE_RATE`,
named ``<key>.wav`` where ``key`` is :func:`clip_key` of the text, voice and rate
(content addressing: the same utterance always maps to the same file, and a change of
format or processing changes every key through :data:`FORMAT_VERSION`).

The file's fixed layout (:mod:`voiceguide.speech.clipfile`: a canonical 44-byte WAV
header, the samples, and a chunk with their CRC-32) makes the two hot paths cheap and
strict: :meth:`ClipCache.length` reads 44 bytes and compares the declared sizes with
the file's real size (no audio is decoded, no soundfile import), and
:meth:`ClipCache.get` reads the samples straight after the header and checks them
against the checksum. A file whose header, size or checksum
does not add up (a truncated copy, a foreign file, an entry from an old crash, random,
zeroed or flipped samples on a failing disk) is treated as missing and removed, so the
clip is made again. Anything that is not a regular file where a clip should be (a
folder, a FIFO, a device) is removed the same way, never read and never an error.

Writes are atomic: the clip goes to a temporary file in the same folder
(``.<key>.<pid>.<random>.tmp``), is flushed and ``fsync``-ed, then ``os.replace``-d onto
its final name. If the folder or the temporary file vanishes meanwhile (``cache clear``,
or the folder deleted by hand, during an export or a play), the write is simply done
again: a clear never breaks a running export or play. Readers therefore see either no clip or a complete one, and two
processes writing the same key at once simply both rename a complete file into place
(last one wins). Stray temporary files are never read as clips; :meth:`ClipCache.evict`
removes old ones and :meth:`ClipCache.clear` removes all.

The fsync before the rename is what keeps a crash of the whole machine (power loss,
kernel panic) safe too: without it the rename may reach the disk before the data, and
the clip may come back with its full size but not all its data (zeros, or stale blocks
on file systems that do not order data before metadata): a header and size that add up,
wrong samples, and no cheap check on read could tell. A crash of the process alone never
loses written data either way. The fsync costs about 0.5-1 ms a clip on an SSD or a VM's
disk and far more on an SD card or a spinning disk, so :meth:`ClipCache.batch` does the
same writes, fsync included, in a background thread while the caller goes on.

Eviction is least-recently-used: :meth:`ClipCache.get` touches the file's mtime, and
:meth:`ClipCache.evict` (run automatically once the cache may be over its cap after a
:meth:`ClipCache.put`) removes the oldest clips until the total is within ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import stat
import threading
import time
import unicodedata
from pathlib import Path

import numpy as np

from voiceguide.speech import clipfile
from voiceguide.timing.timeline import SAMPLE_RATE

#: Bump when the file format *or* the way clips are synthesized and processed
#: (trimming, level, resampling) changes: every key changes, old clips age out.
FORMAT_VERSION = 2   # 2: the vgck checksum chunk

#: Default cap on the cache's total size.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

#: Temporary files older than this are considered left over from a crash.
STALE_TEMP_SECONDS = 3600.0

#: Clips a :class:`PutBatch` holds in memory, waiting to be written, at most.
BATCH_QUEUE = 32

#: Times a write is redone when its folder or temporary file vanished meanwhile.
_WRITE_ATTEMPTS = 10
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_CLIP_NAME_RE = re.compile(r"^[0-9a-f]{64}\.wav$")
_SUFFIX = ".wav"
_TEMP_SUFFIX = ".tmp"


def canonical_text(text: str) -> str:
    """The form of ``text`` that is spoken and hashed: NFC, whitespace collapsed.

    Texts that differ only in spacing or Unicode composition sound the same, so they
    share one clip.
    """
    return " ".join(unicodedata.normalize("NFC", str(text)).split())


def clip_key(text: str, voice: str | None, rate: int, *, engine: str = "") -> str:
    """The cache key of one utterance: a sha256 hex digest (64 characters).

    It hashes a canonical JSON form of the format version, sample rate, ``engine``
    (the synthesizer's name, so clips from different engines never mix), ``voice``
    (``None`` = the engine's default voice), ``rate`` (words per minute) and
    :func:`canonical_text` of ``text``.
    """
    form = {
        "format": FORMAT_VERSION,
        "sample_rate": SAMPLE_RATE,
        "engine": engine,
        "voice": voice or "",
        "rate": int(rate),
        "text": canonical_text(text),
    }
    blob = json.dumps(form, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def default_clip_dir() -> Path:
    """The default cache folder: ``<user cache dir>/clips``.

    On Linux that is ``$XDG_CACHE_HOME/voiceguide/clips`` (``~/.cache/...`` when unset);
    it is looked up on every call so a changed ``XDG_CACHE_HOME`` is honoured.
    """
    from voiceguide.paths import cache_dir

    return cache_dir() / "clips"


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"not a clip key: {key!r}")
    return key


class ClipCache:
    """A content-addressed, size-capped store of mono int16 clips at SAMPLE_RATE.

    ``root`` is the folder (created on the first :meth:`put`; ``None`` means
    :func:`default_clip_dir`). ``max_bytes`` caps the total size of the clip files.
    Safe to share between processes; see the module docstring for the guarantees.
    """

    def __init__(self, root: Path | str | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        """Open (lazily) the cache in ``root`` with a cap of ``max_bytes``."""
        if int(max_bytes) <= 0:
            raise ValueError("max_bytes must be positive")
        self.root = Path(root) if root is not None else default_clip_dir()
        self.max_bytes = int(max_bytes)
        self._approx_bytes: int | None = None  # running estimate between scans

    # -- paths -----------------------------------------------------------------------

    def path(self, key: str) -> Path:
        """The file a clip with ``key`` lives in (whether or not it exists)."""
        return self.root / (_check_key(key) + _SUFFIX)

    # -- reading ---------------------------------------------------------------------

    def _discard(self, path: Path, st: os.stat_result) -> None:
        """Remove a bad entry, unless another process has just replaced it."""
        try:
            now = os.stat(path, follow_symlinks=False)
            if (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):
                _remove_entry(path)
        except OSError:
            pass

    def _open_clip(self, path: Path):
        """The clip file opened for reading with its stat, or None when it is missing or
        not a regular file (a folder, FIFO or device there is removed, never read: a
        non-blocking open, so a FIFO cannot hang)."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0))
        except IsADirectoryError:
            _remove_entry(path)
            return None
        except OSError:
            return None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self._discard(path, st)
            return None
        return os.fdopen(fd, "rb"), st

    def length(self, key: str) -> int | None:
        """The clip's length in frames, or None if it is missing or corrupt.

        Reads only the 44-byte header (and the file size); a corrupt entry is removed.
        The samples' checksum is checked by :meth:`get`, which reads them.
        """
        return self._read(key, samples=False)

    def get(self, key: str) -> np.ndarray | None:
        """The clip's samples (1-D int16), or None if it is missing or corrupt.

        A hit marks the clip as recently used (its mtime is touched) for eviction;
        a corrupt entry (its samples do not match their checksum) is removed.
        """
        samples = self._read(key, samples=True)
        if samples is not None:
            try:
                os.utime(self.path(key))
            except OSError:
                pass  # read-only cache, or evicted meanwhile: the samples are still good
        return samples

    def _read(self, key: str, samples: bool):
        """The clip's header checked, then its length in frames, or (``samples``) its
        checked samples; None if missing, unreadable or corrupt (a corrupt entry is
        removed)."""
        path = self.path(key)
        opened = self._open_clip(path)
        if opened is None:
            return None
        f, st = opened
        try:
            with f:
                result = clipfile.frames_from_header(f.read(clipfile.HEADER_SIZE), st.st_size)
                if samples and result is not None:
                    result = clipfile.checked_samples(f.read(), result)
        except OSError:
            return None
        if result is None:
            self._discard(path, st)
        return result

    def __contains__(self, key: str) -> bool:
        """True if a valid clip with ``key`` is stored."""
        return self.length(key) is not None

    # -- writing ---------------------------------------------------------------------

    def put(self, key: str, samples: np.ndarray) -> None:
        """Store ``samples`` (1-D, int16, mono at SAMPLE_RATE) as the clip ``key``.

        Atomic and durable (temporary file, fsync, ``os.replace``); evicts old clips
        afterwards if the cache may be over its cap. To store many clips without waiting
        for each fsync, use :meth:`batch`.
        """
        path = self.path(key)
        data = clipfile.clip_samples(samples)
        parts = clipfile.parts(data)
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                self._write_once(path, parts)
                break
            except FileNotFoundError:  # the folder or the temporary file was cleared
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
            except IsADirectoryError:  # a folder where the clip goes: remove it
                _remove_entry(path)
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
        size = clipfile.file_size(len(data))
        if self._approx_bytes is None:
            self.evict()
        else:
            self._approx_bytes += size
            if self._approx_bytes > self.max_bytes:
                self.evict()

    def _write_once(self, path: Path, parts) -> None:
        """One atomic, durable write of ``parts`` to ``path``."""
        from voiceguide.atomic import private_dir

        private_dir(self.root)
        tmp = self.root / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o600)
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
            self._replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def batch(self) -> PutBatch:
        """A :class:`PutBatch`: :meth:`put` in a background thread, for many clips."""
        return PutBatch(self)

    @staticmethod
    def _replace(tmp: Path, path: Path) -> None:
        """``os.replace`` with a few retries for Windows, where an open target refuses."""
        for attempt in range(5):
            try:
                os.replace(tmp, path)
                return
            except PermissionError:
                if os.name != "nt" or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # -- maintenance -----------------------------------------------------------------

    def _scan(self) -> tuple[list[tuple[float, str, int]], list[tuple[str, float]]]:
        """(clips as (mtime, name, size), temporary files as (name, mtime)); entries
        with a clip's name that are not regular files are removed."""
        clips: list[tuple[float, str, int]] = []
        temps: list[tuple[str, float]] = []
        obstacles: list[str] = []
        try:
            entries = list(os.scandir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return clips, temps
        for entry in entries:
            name = entry.name
            is_clip = bool(_CLIP_NAME_RE.match(name))
            if not is_clip and not (name.startswith(".") and name.endswith(_TEMP_SUFFIX)):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                obstacles.append(name)
            elif is_clip:
                clips.append((st.st_mtime, name, st.st_size))
            else:
                temps.append((name, st.st_mtime))
        for name in obstacles:
            _remove_entry(self.root / name)
        return clips, temps

    def _unlink(self, name: str) -> bool:
        try:
            os.unlink(self.root / name)
            return True
        except FileNotFoundError:
            return False
        except OSError:
            return False

    def evict(self) -> int:
        """Remove least-recently-used clips until the total is within ``max_bytes``.

        Also removes temporary files older than :data:`STALE_TEMP_SECONDS` (left by a
        crash). Returns the number of clips removed.
        """
        clips, temps = self._scan()
        now = time.time()
        for name, mtime in temps:
            if now - mtime > STALE_TEMP_SECONDS:
                self._unlink(name)
        total = sum(size for _, _, size in clips)
        removed = 0
        if total > self.max_bytes:
            for _, name, size in sorted(clips):  # oldest first; name breaks ties
                if total <= self.max_bytes:
                    break
                self._unlink(name)
                total -= size
                removed += 1
        self._approx_bytes = total
        return removed

    def info(self) -> dict:
        """``{"path": str, "clips": int, "bytes": int, "max_bytes": int}``."""
        clips, _ = self._scan()
        total = sum(size for _, _, size in clips)
        self._approx_bytes = total
        return {"path": str(self.root), "clips": len(clips), "bytes": total,
                "max_bytes": self.max_bytes}

    def clear(self) -> int:
        """Remove every clip (and any temporary file); return the number of clips removed."""
        clips, temps = self._scan()
        for name, _ in temps:
            self._unlink(name)
        removed = sum(1 for _, name, _ in clips if self._unlink(name))
        self._approx_bytes = 0
        return removed


def _remove_entry(path: Path) -> None:
    """Remove what is at ``path`` in the cache: a file, a link, or a whole folder."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


class PutBatch:
    """Many :meth:`ClipCache.put` calls, done by one background thread.

    :meth:`put` checks its arguments and returns at once (unless :data:`BATCH_QUEUE`
    clips are already waiting: then it waits for room); the thread stores the clips in
    order, each exactly as :meth:`ClipCache.put` does (temporary file, fsync, rename:
    every clip is durable before it becomes visible, and a crash at any point leaves
    either no clip or a complete one). The caller goes on meanwhile (the fsync waits for
    the disk, not the CPU). :meth:`close` (or the end of a ``with`` block) waits until
    every clip is stored and raises the first error (an ``OSError``), if any; after an
    error the clips still queued are dropped. The cache must not be used from other
    threads until then.
    """

    def __init__(self, cache: ClipCache):
        """Start an empty batch for ``cache`` (the thread starts with the first put)."""
        self.cache = cache
        self._queue: queue.Queue = queue.Queue(maxsize=BATCH_QUEUE)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None  # set by the thread, once
        self._reported = False

    def put(self, key: str, samples: np.ndarray) -> None:
        """Queue ``samples`` to be stored as ``key``; raises ValueError at once for a bad
        key or array, and the error of an earlier clip that could not be stored."""
        self.cache.path(key)  # checks the key
        data = clipfile.clip_samples(samples)
        self._raise()
        if self._error is not None:
            return  # reported already; nothing more is stored
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="voiceguide-clip-writer")
            self._thread.start()
        self._queue.put((key, data))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self.cache.put(*item)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None and not self._reported:
            self._reported = True
            raise self._error

    def close(self) -> None:
        """Wait until every queued clip is stored; raise the first error, if any (once)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def __enter__(self) -> PutBatch:
        """Use as a context manager: :meth:`close` on exit."""
        return self

    def __exit__(self, *exc) -> None:
        """Wait for the queued clips (their error is not raised over another one)."""
        if exc[0] is None:
            self.close()
        else:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - the exception in flight matters more
                pass
