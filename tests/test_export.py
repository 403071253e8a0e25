"""Export: every format, exact length, chapters, atomic writes, no overwrite."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import numpy as np
import pytest
import soundfile

from tests.support.cli import run_voiceguide, voiceguide_command
from voiceguide.audio import exporter
from voiceguide import catalog
from voiceguide.session import prepare as preparing
from voiceguide.timing.timeline import SAMPLE_RATE

def show_total(routine) -> float:
    result = run_voiceguide("show", routine, "--json", "--for", "export")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["total_seconds"]


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_export_length_matches_show(tmp_path, two, suffix):
    out = tmp_path / f"two{suffix}"
    result = run_voiceguide("export", two, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Wrote {out}")
    info = soundfile.info(str(out))
    assert info.samplerate == SAMPLE_RATE and info.channels == 1
    assert abs(info.duration - show_total(two)) <= 0.050
    assert not list(tmp_path.glob(".*part"))


def test_wav_export_is_exactly_the_timeline(tmp_path, two):
    out = tmp_path / "two.wav"
    assert run_voiceguide("export", two, "-o", out).returncode == 0
    timeline = json.loads(run_voiceguide("show", two, "--json", "--for", "export").stdout)
    assert soundfile.info(str(out)).frames == timeline["total_samples"]


def test_chapters_one_cue_per_section(tmp_path, two):
    out = tmp_path / "two.mp3"
    assert run_voiceguide("export", two, "-o", out).returncode == 0
    vtt = (tmp_path / "two.mp3.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    titles = [line for line in vtt.splitlines() if line in
              ("Welcome", "Rest on your back", "Child's pose", "Closing")]
    assert titles == ["Welcome", "Rest on your back", "Child's pose", "Closing"]
    assert "00:00:00.000 --> " in vtt


def test_existing_file_is_kept_without_force(tmp_path, two):
    out = tmp_path / "two.wav"
    out.write_bytes(b"my recording")
    result = run_voiceguide("export", two, "-o", out)
    assert result.returncode == 2
    assert "already exists; use --force" in result.stderr
    assert out.read_bytes() == b"my recording"
    assert run_voiceguide("export", two, "-o", out, "--force").returncode == 0
    assert soundfile.info(str(out)).frames > 0


def test_bad_format_and_folder(tmp_path, two):
    result = run_voiceguide("export", two, "-o", tmp_path / "x.aiff")
    assert result.returncode == 2 and "unknown audio format" in result.stderr
    result = run_voiceguide("export", two, "-o", tmp_path / "no" / "x.wav")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_interrupted_export_leaves_nothing(tmp_path):
    """Ctrl-C in the middle of a long export: exit 130, no file, no temporary file."""
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    out = tmp_path / "evening.flac"
    assert run_voiceguide("export", "evening", "-o", tmp_path / "warm.wav").returncode == 0
    process = subprocess.Popen(voiceguide_command() + ["export", "evening", "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".evening.flac.*")) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "evening.flac.vtt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warm.wav", "warm.wav.vtt"]


def test_failed_write_leaves_no_partial_file(tmp_path):
    library = catalog.load_library()
    prepared = preparing.prepare_named("quick", {}, library=library)

    def broken_blocks():
        yield from prepared.renderer(prepared.timeline).blocks(0, 4096)
        raise OSError("disk full")

    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(exporter.StorageError, match="disk full"):
        exporter.export(folder / "quick.wav", broken_blocks(), prepared.timeline)
    prepared.speech.close()
    assert list(folder.iterdir()) == []


def test_renderer_streams_in_bounded_blocks():
    prepared = preparing.prepare_named("morning", {})
    renderer = prepared.renderer(prepared.timeline)
    total = 0
    for block in renderer.blocks():
        assert len(block) <= 2048
        total += len(block)
    assert total == prepared.timeline.total_samples
    assert len(renderer._clips) <= 48  # only a few recent clips are kept
    prepared.speech.close()


def test_clips_and_cues_land_on_their_exact_samples():
    prepared = preparing.prepare_named("quick", {})
    timeline = prepared.timeline
    renderer = prepared.renderer(timeline)
    cue = next(e for e in timeline.events if e.kind == "cue" and e.cue == "switch") \
        if any(e.cue == "switch" for e in timeline.events) else \
        next(e for e in timeline.events if e.kind == "cue")   # the spoken notice comes first
    out = next(renderer.blocks(cue.start, cue.start + 100))
    expected = renderer.cues[cue.cue][:100]
    assert (out == expected).all()
    before = next(renderer.blocks(cue.start - 50, cue.start))
    speech = next(e for e in timeline.events if e.kind == "speech")
    clip = np.concatenate(list(renderer.blocks(speech.start, speech.end)))
    assert clip[0] == 0.0 and abs(clip).max() > 0.3   # faded in, speech-level loud
    assert before.shape == (50,)
    prepared.speech.close()


def _read_tags(path):
    """(tags, [(start ms, title)]) read back with mutagen, whatever the format."""
    import mutagen
    from mutagen.wave import WAVE

    audio = WAVE(str(path)) if path.suffix == ".wav" else mutagen.File(str(path))
    if path.suffix in (".mp3", ".wav"):
        tags = audio.tags
        values = {"title": str(tags["TIT2"]), "routine": str(tags["TXXX:ROUTINE"]),
                  "voice": str(tags["TXXX:VOICE"]), "date": str(tags["TDRC"])}
        toc = tags.getall("CTOC")[0]
        chaps = {c.element_id: c for c in tags.getall("CHAP")}
        marks = [(chaps[cid].start_time, str(chaps[cid].sub_frames["TIT2"]))
                 for cid in toc.child_element_ids]
        return values, marks
    comments = audio.tags
    values = {key: comments[key.upper()][0] for key in ("title", "routine", "voice", "date")}
    marks, number = [], 1
    while f"CHAPTER{number:03d}" in comments:
        hours, minutes, secs = comments[f"CHAPTER{number:03d}"][0].split(":")
        start = round((int(hours) * 3600 + int(minutes) * 60 + float(secs)) * 1000)
        marks.append((start, comments[f"CHAPTER{number:03d}NAME"][0]))
        number += 1
    return values, marks


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_export_carries_tags_and_chapters(tmp_path, two, suffix):
    """Every format is tagged (title, routine, voice, date) and has a chapter per
    section, read back with mutagen: chapter start = section start, in ms."""
    import datetime

    out = tmp_path / f"two{suffix}"
    result = run_voiceguide("export", two, "-o", out)
    assert result.returncode == 0, result.stderr
    timeline = json.loads(run_voiceguide("show", two, "--json", "--for", "export").stdout)
    values, marks = _read_tags(out)
    assert values == {"title": "Two", "routine": timeline["routine"], "voice": "default",
                      "date": datetime.date.today().isoformat()}
    assert marks == [(round(s["start"] * 1000), s["title"]) for s in timeline["sections"]]
    assert [title for _, title in marks] == ["Welcome", "Rest on your back", "Child's pose",
                                             "Closing"]
    assert soundfile.info(str(out)).frames == timeline["total_samples"]  # still playable
    assert (out.stat().st_mode & 0o777) == 0o600
    assert (tmp_path / f"two{suffix}.vtt").exists()


def test_tag_and_chapter_text_is_made_safe():
    assert exporter.tag_text("Cat\x1b[31m and\ncow\x00") == "Cat [31m and cow"
    assert exporter.tag_text("\n\t") == "-"


def test_failed_tagging_leaves_nothing(tmp_path, two, monkeypatch):
    """Tags are written into the temporary file before the rename: if tagging fails,
    neither the audio nor the chapters file is left, nor any temporary file."""
    from mutagen import MutagenError

    def broken(*args):
        raise MutagenError("cannot save tags")

    monkeypatch.setattr(exporter, "write_tags", broken)
    prepared = preparing.prepare_named(str(two), {})
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(exporter.StorageError, match="cannot write .*two.mp3: cannot save tags"):
        preparing.export(prepared, folder / "two.mp3")
    prepared.speech.close()
    assert list(folder.iterdir()) == []
