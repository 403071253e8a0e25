"""Speech synthesis: each utterance becomes a tight, level, cached clip.

Every clip is mono int16 at :data:`~voiceguide.timing.timeline.SAMPLE_RATE`, trimmed and
peak-normalized the same way whatever engine spoke it (:mod:`.audio`), and stored in a
:class:`~voiceguide.speech.clipcache.ClipCache` under a key made of the text, voice, rate,
engine and engine version, so a routine is synthesized once and later runs start
instantly.

The parts: :mod:`.engine` (the small interface every engine implements), :mod:`.pool`
(worker processes, shared by all engines), :mod:`.espeak` (pyttsx3: espeak-ng on
Linux, the system voices elsewhere; the default), :mod:`.piper` (Piper neural voices,
an optional extra), :mod:`.worker` and :mod:`.template_worker` (the worker programs).
:class:`Speech` is what the rest of voiceguide uses; :func:`list_voices` and
:func:`resolve_voice` cover every engine's voices.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from typing import Callable, Iterable

import numpy as np

from voiceguide.speech.clipcache import ClipCache, canonical_text, clip_key
from voiceguide.errors import InputError, StorageError, VoiceguideError, shown
from voiceguide.audio.loudness import VERSION as LEVEL_VERSION
from voiceguide.audio.loudness import level
from voiceguide.speech import piper
from voiceguide.speech.audio import (FADE_SECONDS, MARGIN_SECONDS, PEAK_DBFS, SILENCE_DB,
                                     finish_clip, silence_clip)
from voiceguide.speech.engine import DEFAULT_RATE, Engine, VoiceInfo
from voiceguide.speech.espeak import Pyttsx3Engine, check_engine, default_driver, install_hint
from voiceguide.speech.pool import (MAX_ATTEMPTS, MAX_RESTARTS, MAX_WORKERS,
                                    PARALLEL_MIN_CLIPS, PIPELINE, Pool)
from voiceguide.speech.protocol import one_line
from voiceguide.speech.worker import STARTUP_TIMEOUT
from voiceguide.timing.timeline import SAMPLE_RATE

__all__ = ["DEFAULT_RATE", "FADE_SECONDS", "MARGIN_SECONDS", "MAX_ATTEMPTS", "MAX_RESTARTS",
           "MAX_WORKERS", "PARALLEL_MIN_CLIPS", "PEAK_DBFS", "PIPELINE", "SILENCE_DB",
           "STARTUP_TIMEOUT", "Engine", "Speech", "VoiceInfo", "add_voice", "check_engine",
           "default_driver", "engine_for", "finish_clip", "install_hint", "list_voices",
           "resolve_voice"]


def engine_for(voice: str | None, driver: str | None = None) -> Engine:
    """The engine that speaks ``voice`` (an id from :func:`resolve_voice`, a Piper model
    file, or None for the default engine's default voice). :class:`DeviceError` if it
    is not installed or its files are unusable."""
    if voice and (voice.startswith(piper.ID_PREFIX) or piper.is_model_path(voice)):
        info = piper.voice_for(voice)
        if info is None:
            if not piper.installed():
                raise piper.missing_extra(f"voice {shown(voice)}")
            raise InputError(f"unknown voice {shown(voice)}; see 'voiceguide voices'")
        return piper.PiperEngine(info)
    return Pyttsx3Engine(driver)


class Speech:
    """Synthesized, cached speech for one voice and rate.

    ``voice`` is a voice id (see :func:`list_voices`, :func:`resolve_voice`; ``None`` is
    the default engine's default voice) or a Piper model file; it picks the engine
    (:func:`engine_for`), ``rate`` is in words per minute, ``cache`` defaults to a
    :class:`ClipCache` in the default location. Workers start only when a clip has to be
    synthesized and stay until :meth:`close` (or the end of a ``with`` block).

    Keyword-only, mainly for tests: ``workers`` caps the worker count (default 2),
    ``clip_timeout`` overrides the per-clip timeout in seconds, and ``driver`` names the
    pyttsx3 driver (default: the platform's; a wrong name simulates a missing engine).
    Raises :class:`DeviceError` up front if the engine cannot be loaded.

    Safe to use from several threads: the worker pool serves one call at a time.
    """

    def __init__(self, voice: str | None = None, rate: int = DEFAULT_RATE,
                 cache: ClipCache | None = None, *, workers: int = MAX_WORKERS,
                 clip_timeout: float | None = None, driver: str | None = None):
        """Check the engine and set up (no process is started yet)."""
        self.engine = engine_for(voice, driver)
        self.driver = self.engine.name
        self.voice = voice or None
        self.rate = int(rate)
        self.cache = cache if cache is not None else ClipCache()
        #: Clips this instance has synthesized (not found in the cache).
        self.synthesized = 0
        self._key_name = self.engine.key_name()
        self._pool = Pool(self.engine, min(workers, MAX_WORKERS), clip_timeout)
        # the pool's workers and inbox serve one run at a time: two threads running it
        # at once would take each other's answers
        self._pool_lock = threading.RLock()

    # -- context management ----------------------------------------------------------

    def close(self) -> None:
        """Stop the worker processes (they are restarted if needed later)."""
        with self._pool_lock:
            self._pool.close()

    def __enter__(self) -> Speech:
        """Use as a context manager; :meth:`close` on exit."""
        return self

    def __exit__(self, *exc) -> None:
        """Stop the workers."""
        self.close()

    # -- the API ---------------------------------------------------------------------

    def _write_error(self, exc: OSError) -> StorageError:
        return StorageError(f"cannot write the speech cache in {self.cache.root}: "
                            f"{exc.strerror or one_line(exc)}")

    def _put(self, key: str, samples: np.ndarray) -> None:
        try:
            self.cache.put(key, samples)
        except OSError as exc:
            raise self._write_error(exc) from None

    def key(self, text: str) -> str:
        """The cache key of ``text`` in this voice and rate."""
        return clip_key(text, self.voice, self.rate, engine=self._key_name)

    def level_key(self, text: str) -> str:
        """The cache key of ``text``'s levelled clip (see :meth:`levelled`)."""
        return clip_key(text, self.voice, self.rate,
                        engine=f"{self._key_name} | levelled {LEVEL_VERSION}")

    def levelled(self, text: str) -> np.ndarray:
        """``text``'s clip as it is heard: brought to one loudness, whatever the engine
        (:func:`voiceguide.audio.loudness.level`). Cached beside the clip; made (and cached)
        now if missing, synthesizing the clip first if needed."""
        if not canonical_text(text):
            return silence_clip()
        key = self.level_key(text)
        samples = self.cache.get(key)
        if samples is None:
            samples = level(self.clip(text), SAMPLE_RATE)
            self._put(key, samples)
        return samples

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (each once, in order) whose clips are not in the cache yet."""
        out, seen = [], set()
        for text in texts:
            if not canonical_text(text):
                continue  # blank text is silence; nothing to synthesize
            key = self.key(text)
            if key not in seen:
                seen.add(key)
                if self.cache.length(key) is None:
                    out.append(text)
        return out

    def prepare(self, texts: Iterable[str],
                progress: Callable[[int, int], None] | None = None, *,
                levelled: bool = False) -> None:
        """Synthesize every text whose clip is not cached yet, in parallel.

        ``progress(done, total)`` is called with ``(0, total)`` first and after each new
        clip. With ``levelled``, the levelled clips (:meth:`levelled`, what the renderer
        plays) are made too, each as soon as its clip exists. Raises
        :class:`DeviceError` if the engine cannot run, :class:`InputError` if it rejects
        the voice, :class:`VoiceguideError` if it keeps failing on a text.
        """
        texts = list(texts)
        jobs: dict[str, str] = {}
        level_keys: dict[str, str] = {}
        for text in self.missing(texts):
            jobs[self.key(text)] = canonical_text(text)
            level_keys[self.key(text)] = self.level_key(text)
        total, done = len(jobs), 0
        if progress:
            progress(0, total)
        if levelled:  # clips made earlier whose levelled form is missing
            for text in texts:
                if self.key(text) not in jobs and canonical_text(text):
                    if self.cache.length(self.level_key(text)) is None:
                        self.levelled(text)
        if not jobs:
            return

        def store(key: str, samples: np.ndarray) -> None:
            nonlocal done
            try:
                batch.put(key, samples)
                if levelled:
                    batch.put(level_keys[key], level(samples, SAMPLE_RATE))
            except OSError as exc:  # an earlier clip could not be written
                raise self._write_error(exc) from None
            self.synthesized += 1
            done += 1
            if progress:
                progress(done, total)

        # the clips are written (and fsync-ed) by a background thread meanwhile; all of
        # them are in the cache when this returns
        batch = self.cache.batch()
        try:
            with self._pool_lock:
                self._pool.run(jobs, self.voice, self.rate, store)
        except BaseException:
            with contextlib.suppress(Exception):
                batch.close()  # keep what was made; the error in flight matters more
            raise
        try:
            batch.close()
        except OSError as exc:
            raise self._write_error(exc) from None

    def clip(self, text: str) -> np.ndarray:
        """The clip for ``text``: 1-D int16 at SAMPLE_RATE, from the cache or synthesized
        (and cached) now. Blank text gives a short silence."""
        if not canonical_text(text):
            return silence_clip()
        key = self.key(text)
        samples = self.cache.get(key)
        if samples is not None:
            return samples
        got: dict[str, np.ndarray] = {}

        def store(k: str, s: np.ndarray) -> None:
            self._put(k, s)
            self.synthesized += 1
            got[k] = s

        with self._pool_lock:
            samples = self.cache.get(key)   # another thread may have made it meanwhile
            if samples is not None:
                return samples
            self._pool.run({key: canonical_text(text)}, self.voice, self.rate, store)
        return got[key]

    def seconds(self, text: str) -> float:
        """The exact length of ``text``'s clip in seconds (frames / SAMPLE_RATE).

        Reads only the cached file's header; synthesizes the clip if it is missing.
        """
        if not canonical_text(text):
            return len(silence_clip()) / SAMPLE_RATE
        frames = self.cache.length(self.key(text))
        if frames is None:
            frames = len(self.clip(text))
        return frames / SAMPLE_RATE

# -- voices ---------------------------------------------------------------------------

_voice_lists: dict[str, tuple[list[VoiceInfo], str | None]] = {}


def _system_voices(driver: str | None) -> tuple[list[VoiceInfo], str | None]:
    """The pyttsx3 engine's voices and its default voice (asked once, in a worker)."""
    engine = Pyttsx3Engine(driver)
    if engine.driver not in _voice_lists:
        pool = Pool(engine, 1, None)
        try:
            raw, default = pool.wait_ready()
        finally:
            pool.close()
        _voice_lists[engine.driver] = (
            [VoiceInfo(i, n, tuple(langs), engine.driver) for i, n, langs in raw], default)
    return _voice_lists[engine.driver]


def list_voices(*, driver: str | None = None) -> list[VoiceInfo]:
    """Every voice: the default engine's (asked once per process, in a worker), then
    the Piper voices found (see :mod:`.piper`).

    Raises :class:`DeviceError` if the default engine is missing. ``driver`` is for tests.
    """
    return list(_system_voices(driver)[0]) + piper.list_voices()


def add_voice(path: str) -> VoiceInfo:
    """Copy a Piper voice file (with its ``.json``) into the user's voice folder."""
    return piper.add_voice(path)


def resolve_voice(query: str, *, driver: str | None = None) -> str:
    """The id of the voice ``query`` names: an id, a case-insensitive name fragment, or
    a Piper model file (``.onnx``).

    An exact id or name wins; otherwise the best fragment match (a name that starts with
    the fragment beats one that merely contains it; among equals the default engine's
    default voice, then the shortest name). Raises :class:`InputError` with a one-line
    message listing a few close voice names if nothing matches (:class:`DeviceError`
    with the install command if nothing is even close and Piper is not installed).
    """
    q = " ".join(str(query).split()).casefold()
    if not q:
        raise InputError("empty voice name")
    if piper.is_model_path(str(query).strip()):
        return piper.voice_for(str(query).strip()).id
    system, default = _system_voices(driver)
    voices = system + piper.list_voices()
    for v in voices:
        if q in (v.id.casefold(), v.name.casefold()):
            return v.id
    ranked = []
    for v in voices:
        name, vid = v.name.casefold(), v.id.casefold()
        if name.startswith(q):
            rank = 0
        elif q in name or q in vid:
            rank = 1
        else:
            continue
        ranked.append((rank, v.id != default, len(v.name), v.name, v.id))
    if ranked:
        return min(ranked)[-1]
    raise _unknown_voice(str(query), q, [v.name for v in voices])


def _unknown_voice(query: str, folded_query: str, names: list[str]) -> VoiceguideError:
    """The error for a voice name that matches nothing."""
    close = difflib.get_close_matches(query, names, n=4, cutoff=0.4)
    if not close:
        folded = {n.casefold(): n for n in names}
        close = [folded[c] for c in
                 difflib.get_close_matches(folded_query, list(folded), n=4, cutoff=0.3)]
    if not close and not piper.installed():
        return piper.missing_extra(f"voice {shown(query)} is not installed; a Piper voice")
    hint = f"; close matches: {', '.join(close)}" if close else (
        f"; for example: {', '.join(names[:4])}" if names else "")
    return InputError(f"unknown voice {shown(query)}{hint}")
