"""Exports are made for listening, not for answering (issue 24, point 5).

A recording cannot hear: it opens by saying so, asks nothing, rests where play
asks, and its .vtt holds a caption for every spoken line beside the chapters.
Interactive play keeps its check-in questions. Through the installed command.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.support.cli import run_voiceguide
from voiceguide import catalog
from voiceguide.audio import exporter
from voiceguide.routine.pacing import CHECKIN_PAUSE, Pacing
from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.timing.timeline import Audience, EventKind, seconds

DAY = dict(os.environ, VOICEGUIDE_DATE="2026-05-04")
PHRASES = catalog.load_phrases(day=datetime.date(2026, 5, 4))   # the variants of that day
TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)( .*)?$")


def parse_vtt(text: str) -> list[dict]:
    """The cues of a WebVTT file, checked as the format asks: the header, blocks
    apart by blank lines, an identifier, a timing line, one line of text, starts in
    order, ends after starts, no ``-->`` in a text."""
    blocks = text.rstrip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues, ids = [], set()
    for block in blocks[1:]:
        lines = block.split("\n")
        if lines[0].startswith("NOTE"):
            assert "-->" not in block
            continue
        name, timing, *texts = lines
        match = TIMING.match(timing)
        assert match and len(texts) == 1 and "-->" not in texts[0], block
        assert name not in ids and "-->" not in name
        ids.add(name)
        h, m, s, ms, h2, m2, s2, ms2 = (int(g) for g in match.groups()[:8])
        start = ((h * 60 + m) * 60 + s) * 1000 + ms
        end = ((h2 * 60 + m2) * 60 + s2) * 1000 + ms2
        assert end > start, block
        assert not cues or start >= cues[-1]["start"], block
        cues.append({"id": name, "start": start, "end": end, "text": texts[0],
                     "settings": (match.group(9) or "").strip()})
    return cues


def export(tmp_path, routine: str) -> list[dict]:
    out = tmp_path / f"{routine}.wav"
    result = run_voiceguide("export", routine, "-o", out, env=DAY)
    assert result.returncode == 0, result.stderr
    vtt = out.with_name(out.name + ".vtt")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:   # ffmpeg reads it as WebVTT without a warning
        check = subprocess.run([ffmpeg, "-v", "warning", "-i", str(vtt), "-c:s", "copy",
                                "-f", "null", "-"], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    return parse_vtt(vtt.read_text(encoding="utf-8"))


def captions(cues: list[dict]) -> list[dict]:
    return [cue for cue in cues if cue["id"].startswith("line-")]


def show(routine: str, *args: str) -> dict:
    result = run_voiceguide("show", routine, "--json", *args, env=DAY)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def ms(secs: float) -> int:
    return int(round(secs * 1000))


@pytest.mark.parametrize("routine", ["quick", "morning"])
def test_an_export_opens_saying_it_cannot_hear_and_asks_nothing(tmp_path, routine):
    said = captions(export(tmp_path, routine))
    opening = " ".join(c["text"] for c in said if c["end"] <= 15_000).lower()
    assert "cannot hear" in opening and "not medical advice" in opening
    assert "pause" in opening and "hurts" in opening
    for caption in said:
        text = caption["text"].lower()
        assert "?" not in text, caption
        assert "say good" not in text and "worse, or stop" not in text, caption
        assert "scale from zero to ten" not in text, caption


@pytest.mark.parametrize("routine", ["quick", "morning"])
def test_each_check_in_spot_of_an_export_is_a_spoken_rest_then_quiet(tmp_path, routine):
    cues = export(tmp_path, routine)
    played = show(routine)
    gates = [e["gate"] for e in played["events"] if e["kind"] == "checkin"]
    chapters = [c for c in cues if c["id"].startswith("chapter-")]
    said = captions(cues)
    rests = [i for i, c in enumerate(said) if c["text"] in PHRASES.recording_rest]
    assert len(rests) == len(gates) == len(chapters) - 1   # baseline, between..., final
    # where play asks: the baseline in the welcome, one at the start of each later
    # exercise, the final one at the start of the closing
    homes = [next(n for n, ch in enumerate(chapters) if ch["start"] <= said[i]["start"] < ch["end"])
             for i in rests]
    assert homes == [0] + list(range(2, len(chapters)))
    for i in rests:   # a quiet rest after it
        assert said[i + 1]["start"] - said[i]["end"] >= CHECKIN_PAUSE * 1000
    wordings = [said[i]["text"] for i in rests]
    assert all(a != b for a, b in zip(wordings, wordings[1:]))
    assert len(set(wordings)) >= min(3, len(wordings))
    assert all("pause" in w.lower() or "stop the recording" in w.lower() for w in wordings)


def test_every_spoken_line_of_an_export_has_a_caption_with_its_exact_times(tmp_path):
    cues = export(tmp_path, "quick")
    timeline = show("quick", "--for", "export")
    spoken = [e for e in timeline["events"] if e["kind"] == "speech"]
    assert not any(e["kind"] == "checkin" for e in timeline["events"])
    expected = [(ms(e["start_sample"] / timeline["sample_rate"]),
                 ms((e["start_sample"] + e["length_samples"]) / timeline["sample_rate"]),
                 exporter.vtt_text(e["text"])) for e in spoken]
    assert [(c["start"], c["end"], c["text"]) for c in captions(cues)] == expected
    chapters = [(c["start"], c["text"], c["settings"]) for c in cues
                if c["id"].startswith("chapter-")]
    assert chapters == [(ms(s["start"]), s["title"], "line:0") for s in timeline["sections"]]


@pytest.mark.parametrize("routine", ["evening", "lower-back", "morning", "quick"])
def test_play_keeps_its_check_in_questions(routine):
    played = show(routine)
    assert show(routine, "--for", "play") == played
    exercises = [s for s in played["sections"] if s["technique"]]
    checkins = [e for e in played["events"] if e["kind"] == "checkin"]
    assert [e["gate"] for e in checkins] == \
        ["baseline"] + ["between"] * (len(exercises) - 1) + ["final"]
    assert {e["text"] for e in checkins if e["gate"] != "between"} == {PHRASES.pain_question}
    assert {e["text"] for e in checkins if e["gate"] == "between"} <= \
        set(PHRASES.variants["checkin_question"])
    texts = [e.get("text") for e in played["events"]]
    assert PHRASES.checkin_intro in texts   # the opening says how to answer
    assert not set(PHRASES.notice + PHRASES.recording_rest) & set(texts)


def test_captions_of_a_timeline_with_questions_end_where_the_pause_begins():
    library = catalog.load_library()
    timeline = compile_routine(library.routine("quick"), Pacing(), estimated_speech(160),
                               library.phrases, library.positions, Audience.PLAY)
    cues = parse_vtt(exporter.webvtt(timeline))
    question = next(e for e in timeline.events if e.kind == EventKind.CHECKIN)
    caption = next(c for c in captions(cues) if c["text"] == exporter.vtt_text(question.text))
    assert caption["start"] == ms(seconds(question.start))
    assert caption["end"] == ms(seconds(question.end - question.pause))
    assert len(captions(cues)) == sum(e.kind in (EventKind.SPEECH, EventKind.CHECKIN)
                                      for e in timeline.events)
