"""ClipCache: content addressing, atomic writes, validation, LRU eviction."""

from __future__ import annotations

import os
import shutil
import threading
import time
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voiceguide.speech.clipcache import (FORMAT_VERSION, ClipCache, canonical_text, clip_key,
                                  default_clip_dir)
from voiceguide.timing.timeline import SAMPLE_RATE

HEADER = 44
CHECKSUM = 12   # the vgck chunk after the samples: id, size, CRC-32


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path, monkeypatch):
    """Never touch the real user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def tone(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=frames, dtype=np.int16)


def key(n) -> str:
    return clip_key(f"text {n}", None, 160)


def test_key_is_stable_canonical_and_discriminating():
    k = clip_key("Breathe in.", None, 160)
    assert len(k) == 64 and int(k, 16) >= 0
    assert clip_key("  Breathe   in. ", None, 160) == k  # spacing does not matter
    assert clip_key("Breathe in.", "", 160) == k  # "" and None both mean the default
    assert clip_key("Breathe in.", "gmw/en-us", 160) != k
    assert clip_key("Breathe in.", None, 161) != k
    assert clip_key("Breathe out.", None, 160) != k
    assert clip_key("Breathe in.", None, 160, engine="nsss") != k
    assert canonical_text("e\u0301  x\n") == "\u00e9 x"  # NFC + collapsed whitespace
    assert FORMAT_VERSION >= 1


def test_default_location_follows_xdg_cache_home(tmp_path):
    assert default_clip_dir() == tmp_path / "xdg-cache" / "voiceguide" / "clips"
    assert ClipCache().root == default_clip_dir()


def test_roundtrip_length_and_standard_wav(tmp_path):
    cache = ClipCache(tmp_path / "c")
    samples = tone(12345)
    assert cache.get(key(1)) is None and cache.length(key(1)) is None
    cache.put(key(1), samples)
    got = cache.get(key(1))
    assert got.dtype == np.int16 and np.array_equal(got, samples)
    assert cache.length(key(1)) == 12345
    assert key(1) in cache
    path = cache.path(key(1))
    assert path.stat().st_size == HEADER + 2 * 12345 + CHECKSUM
    # a plain WAV any tool can read
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            1, 2, SAMPLE_RATE, 12345)
    data, rate = soundfile.read(str(path), dtype="int16")
    assert rate == SAMPLE_RATE and np.array_equal(data, samples)
    # empty clips are fine too
    cache.put(key(2), np.zeros(0, dtype=np.int16))
    assert cache.length(key(2)) == 0 and len(cache.get(key(2))) == 0


def test_rejects_bad_keys_and_samples(tmp_path):
    cache = ClipCache(tmp_path)
    with pytest.raises(ValueError):
        cache.get("../../etc/passwd")
    with pytest.raises(ValueError):
        cache.put(key(1), np.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError):
        cache.put(key(1), np.zeros((10, 2), dtype=np.int16))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "header-only", "wrong-rate"])
def test_corrupt_entry_is_ignored_and_removed(tmp_path, damage):
    cache = ClipCache(tmp_path)
    cache.put(key(1), tone(5000))
    path = cache.path(key(1))
    raw = path.read_bytes()
    if damage == "truncate":  # e.g. a copy cut short, or an old non-atomic writer
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif damage == "header-only":
        path.write_bytes(raw[:HEADER])
    else:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(44100)
            w.writeframes(tone(100).tobytes())
    assert cache.length(key(1)) is None
    assert not path.exists()  # removed on detection
    cache.put(key(1), tone(5000))
    path.write_bytes(raw[:-2])
    assert cache.get(key(1)) is None and not path.exists()


def test_stray_temp_file_is_ignored_then_cleaned(tmp_path):
    cache = ClipCache(tmp_path)
    k = key(7)
    stray = tmp_path / f".{k}.4242.deadbeef.tmp"  # a crash between write and rename
    stray.write_bytes(b"RIFF" + os.urandom(100))
    assert cache.get(k) is None and cache.length(k) is None
    assert cache.info()["clips"] == 0
    old = time.time() - 2 * 3600
    os.utime(stray, (old, old))
    cache.evict()
    assert not stray.exists()  # stale temp files are swept
    fresh = tmp_path / f".{k}.4243.cafebabe.tmp"
    fresh.write_bytes(b"partial")
    cache.evict()
    assert fresh.exists()  # a recent one may belong to a writer still at work
    assert cache.clear() == 0 and not fresh.exists()


def test_put_leaves_no_temp_files_and_replaces_atomically(tmp_path):
    cache = ClipCache(tmp_path)
    for n in range(5):
        cache.put(key(n), tone(1000, n))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{key(n)}.wav"
                                                                 for n in range(5))


def test_concurrent_writers_of_one_key(tmp_path):
    """Writers racing on one key (as two processes would) never expose a partial clip."""
    k = key(1)
    clips = [tone(30000, seed) for seed in range(2)]
    stop = threading.Event()
    bad = []

    def writer(samples):
        cache = ClipCache(tmp_path)
        while not stop.is_set():
            cache.put(k, samples)

    def reader():
        cache = ClipCache(tmp_path)
        while not stop.is_set():
            got = cache.get(k)
            if got is not None and not any(np.array_equal(got, c) for c in clips):
                bad.append(got)

    threads = [threading.Thread(target=writer, args=(c,)) for c in clips]
    threads += [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert not bad
    assert [p.name for p in tmp_path.iterdir()] == [f"{k}.wav"]


def test_eviction_is_lru_and_keeps_under_cap(tmp_path):
    clip_bytes = HEADER + 2 * 10_000 + CHECKSUM
    cache = ClipCache(tmp_path, max_bytes=5 * clip_bytes)
    now = time.time()
    for n in range(5):
        cache.put(key(n), tone(10_000, n))
        os.utime(cache.path(key(n)), (now - 1000 + n, now - 1000 + n))  # 0 oldest
    assert cache.info()["bytes"] == 5 * clip_bytes
    cache.get(key(0))  # using clip 0 makes it the most recent
    cache.put(key(5), tone(10_000, 5))  # over the cap: the oldest unused one goes
    assert cache.length(key(1)) is None
    assert all(cache.length(key(n)) == 10_000 for n in (0, 2, 3, 4, 5))
    info = cache.info()
    assert info["bytes"] <= cache.max_bytes and info["clips"] == 5
    for n in range(6, 9):
        cache.put(key(n), tone(10_000, n))
    assert cache.info()["bytes"] <= cache.max_bytes
    assert [cache.length(key(n)) is not None for n in (2, 3, 4)] == [False] * 3
    assert all(cache.length(key(n)) is not None for n in (0, 5, 6, 7, 8))


def test_evict_counts_and_respects_other_writers(tmp_path):
    small = ClipCache(tmp_path, max_bytes=3 * (HEADER + 2000 + CHECKSUM))
    other = ClipCache(tmp_path)  # another process with a big cap fills the folder
    for n in range(10):
        other.put(key(n), tone(1000, n))
        os.utime(other.path(key(n)), (1000 + n, 1000 + n))
    assert small.evict() == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{key(n)}.wav" for n in (7, 8, 9))


def test_info_and_clear(tmp_path):
    cache = ClipCache(tmp_path / "new", max_bytes=10**6)
    assert cache.info() == {"path": str(tmp_path / "new"), "clips": 0, "bytes": 0,
                            "max_bytes": 10**6}
    for n in range(3):
        cache.put(key(n), tone(100 * (n + 1)))
    (tmp_path / "new" / "notes.txt").write_text("not ours")
    info = cache.info()
    assert info["clips"] == 3 and info["bytes"] == 3 * (HEADER + CHECKSUM) + 2 * 600
    assert cache.clear() == 3
    assert cache.info()["clips"] == 0
    assert (tmp_path / "new" / "notes.txt").exists()  # only our files are touched


def test_length_is_cheap(tmp_path):
    cache = ClipCache(tmp_path)
    keys = [key(n) for n in range(300)]
    for k in keys:
        cache.put(k, tone(40_000))
    start = time.perf_counter()
    assert all(cache.length(k) == 40_000 for k in keys)
    assert time.perf_counter() - start < 1.0  # ~10 ms in practice


def test_header_is_what_wave_writes(tmp_path):
    """put() writes the header itself: byte for byte what the ``wave`` module writes
    (the RIFF size also counts the checksum chunk), then the samples, then the chunk."""
    cache = ClipCache(tmp_path / "c")
    for n, frames in enumerate((0, 1, 12345)):
        samples = tone(frames, n)
        cache.put(key(n), samples)
        reference = tmp_path / f"ref{n}.wav"
        with wave.open(str(reference), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
            w.setnframes(frames)
            w.writeframesraw(samples.astype("<i2").tobytes())
        ours, theirs = cache.path(key(n)).read_bytes(), reference.read_bytes()
        assert ours[:4] + ours[8:-CHECKSUM] == theirs[:4] + theirs[8:]
        assert int.from_bytes(ours[4:8], "little") == len(theirs) - 8 + CHECKSUM
        assert ours[-CHECKSUM:] == (b"vgck" + (4).to_bytes(4, "little")
                                    + zlib.crc32(theirs[HEADER:]).to_bytes(4, "little"))


def test_batch_stores_like_put_in_the_background(tmp_path):
    one, many = ClipCache(tmp_path / "one"), ClipCache(tmp_path / "many")
    clips = {key(n): tone(1000 + n, n) for n in range(20)}
    for k, samples in clips.items():
        one.put(k, samples)
    with many.batch() as batch:
        for k, samples in clips.items():
            batch.put(k, samples)
        with pytest.raises(ValueError):
            batch.put("not a key", tone(10))
        with pytest.raises(ValueError):
            batch.put(key(99), np.zeros(3, dtype=np.float32))
    # all stored when the block ends, each file as put() writes it, no temporary files
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir())
    for k in clips:
        assert many.path(k).read_bytes() == one.path(k).read_bytes()
    assert many.info()["clips"] == 20


def test_batch_reports_a_write_error_once(tmp_path):
    """The writer thread's error comes with the next put or with close, whichever
    comes after it failed (on a busy machine the first clip may fail before the
    second is queued), and only once."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    batch = ClipCache(blocker / "clips").batch()
    reported = 0
    for call in (lambda: batch.put(key(1), tone(100)), lambda: batch.put(key(2), tone(100)),
                 batch.close, batch.close):
        try:
            call()
        except OSError:
            reported += 1
    assert reported == 1
    empty = ClipCache(tmp_path / "unused").batch()
    empty.close()  # no clip, no thread
    assert not (tmp_path / "unused").exists()


def test_every_clip_is_durable_before_it_is_visible(tmp_path, monkeypatch):
    """put() and batch() both fsync a clip's file before renaming it into place (so a
    machine crash can lose a clip but never leave one with unwritten data)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", fd)),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))),
                                                     real_replace(a, b))[1])
    cache = ClipCache(tmp_path)
    cache.put(key(0), tone(100))
    with cache.batch() as batch:
        for n in range(1, 4):
            batch.put(key(n), tone(100, n))
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace"] * 4
    assert [Path(p).name for kind, p in events if kind == "replace"] == [
        f"{key(n)}.wav" for n in range(4)]


def test_batch_keeps_few_clips_in_memory_and_stops_after_an_error(tmp_path, monkeypatch):
    import voiceguide.speech.clipcache as clipcache

    monkeypatch.setattr(clipcache, "BATCH_QUEUE", 2)
    cache = ClipCache(tmp_path)
    gate = threading.Event()
    real_put = ClipCache.put
    calls = []

    def slow_put(self, k, samples):
        calls.append(k)
        gate.wait(5)
        if k == key(3):
            raise OSError(28, "No space left on device")
        real_put(self, k, samples)

    monkeypatch.setattr(ClipCache, "put", slow_put)
    batch = cache.batch()
    for n in range(3):  # one being written, two waiting
        batch.put(key(n), tone(100, n))
    threading.Timer(0.3, gate.set).start()
    start = time.monotonic()
    batch.put(key(3), tone(100, 3))  # waits for room
    assert time.monotonic() - start > 0.2
    errors = []
    for call in (lambda: batch.put(key(4), tone(100, 4)), batch.close, batch.close):
        try:
            call()
        except OSError as exc:
            errors.append(exc)
    assert len(errors) == 1 and "No space" in str(errors[0])  # raised once
    stored = {n for n in range(5) if cache.length(key(n)) is not None}
    assert stored == {0, 1, 2}  # clip 3 failed; clip 4 came after it and was dropped
    assert calls == [key(n) for n in range(4)]


# ------------------------------------------------- damaged samples (issue 11)

@pytest.mark.parametrize("damage", ["random", "zeroed", "bit-flip"])
def test_damaged_samples_behind_a_valid_header_are_caught(tmp_path, damage):
    cache = ClipCache(tmp_path)
    samples = tone(5000)
    cache.put(key(1), samples)
    path = cache.path(key(1))
    raw = bytearray(path.read_bytes())
    if damage == "random":
        raw[HEADER:HEADER + 4000] = os.urandom(4000)
    elif damage == "zeroed":
        raw[HEADER + 2000:HEADER + 6000] = bytes(4000)
    else:
        raw[HEADER + 777] ^= 0x08
    path.write_bytes(bytes(raw))
    assert cache.length(key(1)) == 5000      # the header still adds up...
    assert cache.get(key(1)) is None         # ...but the samples do not: never played
    assert not path.exists()
    cache.put(key(1), samples)
    assert np.array_equal(cache.get(key(1)), samples)


def test_a_damaged_clip_is_made_again_by_speech(tmp_path):
    from voiceguide.speech import Speech

    with Speech(cache=ClipCache(tmp_path)) as speech:
        first = speech.clip("Breathe in slowly.")
        path = speech.cache.path(speech.key("Breathe in slowly."))
        raw = bytearray(path.read_bytes())
        raw[HEADER:HEADER + 2000] = bytes(2000)           # a spoken word became silence
        path.write_bytes(bytes(raw))
        again = speech.clip("Breathe in slowly.")
        assert speech.synthesized == 2 and np.array_equal(again, first)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_non_file_where_a_clip_should_be_is_removed_not_an_error(tmp_path, kind):
    cache = ClipCache(tmp_path)
    path = cache.path(key(1))
    if kind == "folder":
        path.mkdir()
        (path / "inside").write_text("x")
    else:
        os.mkfifo(path)
    assert cache.length(key(1)) is None and cache.get(key(1)) is None   # no hang
    cache.put(key(1), tone(100))                                        # no error
    assert np.array_equal(cache.get(key(1)), tone(100))
    os.unlink(path)
    path.mkdir()
    assert cache.info()["clips"] == 0
    assert not path.exists()                 # the scan removed it
    path.mkdir()
    cache.clear()
    assert not path.exists()


def test_cache_clear_while_clips_are_written_never_breaks_the_writer(tmp_path):
    writer, clearer = ClipCache(tmp_path / "c"), ClipCache(tmp_path / "c")
    done = threading.Event()

    def clear_again_and_again():
        while not done.is_set():
            clearer.clear()
            shutil.rmtree(clearer.root, ignore_errors=True)   # even the folder
            time.sleep(0.02)

    thread = threading.Thread(target=clear_again_and_again)
    thread.start()
    try:
        with writer.batch() as batch:
            for n in range(150):
                batch.put(key(n), tone(2000, n))
    finally:
        done.set()
        thread.join()
    writer.put(key(1), tone(2000, 1))
    assert np.array_equal(writer.get(key(1)), tone(2000, 1))
