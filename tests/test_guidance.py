"""The guidance as someone on the floor with eyes closed hears it: moves between
positions, round spoken numbers that are the real holds, the form cue and one
breathing reminder in every hold, the notice, the doses, and --length.

These run the pure compiler with estimated speech lengths (fast); the CLI tests
at the end run the installed command with real speech.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scripts.source_ngrams import ngram_hashes
from tests.support.cli import run_voiceguide
from voiceguide import catalog
from voiceguide.routine import loader, tomlfile
from voiceguide.session.checkin import KEYS
from voiceguide.session.dialogue import CONFIRM_STOP_QUESTION
from voiceguide.timing.compiler import _is_breathing, compile_routine, estimated_speech
from voiceguide.timing.fitting import LengthError, drop_order, fit_length
from voiceguide.routine.model import FLOORLESS_POSITIONS, Hold
from voiceguide.routine.pacing import PACE_NAMES, Pacing
from voiceguide.settings import resolve
from voiceguide.timing.timeline import SAMPLE_RATE, Audience, Gate, samples, seconds
from voiceguide.vocabulary import COMMANDS, STOP, STOP_WORDS

LIBRARY = catalog.load_library()
PHRASES = LIBRARY.phrases
POSITIONS = LIBRARY.positions
ROUTINES = sorted(LIBRARY.builtin_routines)
LIBRARY_DIR = Path(catalog.BUILTIN_DIR)
NGRAMS = Path(__file__).parent / "data" / "source-6grams.txt"
SOURCES = Path(__file__).resolve().parents[2] / "shared" / "sources"
SOURCE_TEXTS = ("source-a-self-relief-techniques.txt", "source-b-lower-back-safety.txt",
                "source-b-english.txt")


def pacing_of(name: str, pace: str = "normal") -> Pacing:
    return replace(resolve({}, LIBRARY.routine(name), file_values={}).pacing,
                   pace=PACE_NAMES[pace])


def compiled(routine, pacing: Pacing, audience: Audience = Audience.PLAY):
    return compile_routine(routine, pacing, estimated_speech(pacing.rate), PHRASES,
                           POSITIONS, audience)


def variants_of(name: str, pace: str):
    """The routine as it is, and fitted to a short and a long target."""
    routine, pacing = LIBRARY.routine(name), pacing_of(name, pace)
    yield routine, pacing
    for minutes in (6, 40):
        try:
            fitted = fit_length(routine, pacing, estimated_speech(pacing.rate), PHRASES,
                                minutes, POSITIONS)
        except LengthError as err:   # quick: 40 minutes is beyond its longest safe version
            assert err.longest
            fitted = fit_length(routine, pacing, estimated_speech(pacing.rate), PHRASES,
                                err.seconds / 60, POSITIONS)
        yield fitted.routine, fitted.pacing


CASES = [(name, pace) for name in ROUTINES for pace in ("slow", "normal", "fast")]


def section_texts(timeline, index: int) -> list[str]:
    return [e.text for e in timeline.events if e.section == index and e.text]


@pytest.mark.parametrize("name, pace", CASES)
def test_a_spoken_move_between_exercises_in_different_positions(name, pace):
    for routine, pacing in variants_of(name, pace):
        timeline = compiled(routine, pacing)
        exercises = routine.active_exercises
        for i in range(1, len(exercises)):
            here, there = exercises[i - 1].technique.position, exercises[i].technique.position
            texts = section_texts(timeline, i + 1)   # section 0 is the welcome
            assert PHRASES.preview.format(title=exercises[i].technique.title,
                                          position=POSITIONS.positions[there].name) in texts
            moves = [line for move in POSITIONS.path(here, there) for line in move.say]
            assert (here == there) == (not moves)
            for line in moves:
                assert line in texts, (name, here, there, line)
            if moves:   # the move comes before the exercise's own setup and movement
                assert texts.index(moves[-1]) < len(texts) - 1


def _spoken_seconds(text: str) -> int | None:
    match = re.search(r"for (?:(\d+) minutes?)?(?: and )?(?:(\d+) seconds)?\.$", text)
    if not match or not any(match.groups()):
        return None
    minutes, secs = (int(g) if g else 0 for g in match.groups())
    return 60 * minutes + secs


@pytest.mark.parametrize("name, pace", CASES)
def test_every_spoken_duration_is_a_multiple_of_5_and_the_real_length(name, pace):
    for routine, pacing in variants_of(name, pace):
        timeline = compiled(routine, pacing)
        holds = {h.start: h for h in timeline.holds}
        releases = {line for e in routine.active_exercises for line in e.technique.release}
        events = timeline.events
        for i, event in enumerate(events):
            said = _spoken_seconds(event.text or "") if event.kind == "speech" else None
            if said is None:
                continue
            assert said % 5 == 0, event.text
            if event.start in holds:
                assert holds[event.start].length == samples(said), event.text
            else:   # a flow: from its start cue to its release
                end = next(e for e in events[i:] if e.text in releases)
                assert end.start - event.start == samples(said), event.text


@pytest.mark.parametrize("name, pace", CASES)
def test_every_hold_says_its_form_cue_and_one_breathing_reminder(name, pace):
    for routine, pacing in variants_of(name, pace):
        timeline = compiled(routine, pacing)
        forms = {t.id: t.form for t in LIBRARY.techniques.values()}
        for hold in timeline.holds:
            inside = [e.text for e in timeline.events
                      if hold.start <= e.start < hold.start + hold.length and e.text]
            form = forms[hold.technique]
            assert form in inside, (hold, inside)
            breathing = [t for t in inside if _is_breathing(t)]
            if hold.length >= samples(15) and not _is_breathing(form):
                assert len(breathing) == 1, (hold, inside)


@pytest.mark.parametrize("name", ROUTINES)
def test_the_notice_starts_every_export_within_15_seconds(name):
    for routine, pacing in variants_of(name, "normal"):
        timeline = compiled(routine, pacing, Audience.EXPORT)
        spoken = [e for e in timeline.events if e.kind == "speech"]
        assert [e.text for e in spoken[:len(PHRASES.notice)]] == list(PHRASES.notice)
        assert seconds(spoken[len(PHRASES.notice) - 1].end) <= 15
        assert "not medical advice" in " ".join(PHRASES.notice)
        without = compiled(routine, pacing)   # play with check-ins
        assert not set(PHRASES.notice) & {e.text for e in without.events}


@pytest.mark.parametrize("name", ROUTINES)
def test_opening_names_the_start_and_what_to_have_ready_closing_ends_there(name):
    routine = LIBRARY.routine(name)
    timeline = compiled(routine, pacing_of(name))
    texts = [e.text for e in timeline.events if e.text]
    start = routine.active_exercises[0].technique.position
    assert PHRASES.start_position.format(position=POSITIONS.positions[start].name) in texts
    ready = next(t for t in texts if t.startswith("Have ready"))
    if any(e.technique.position not in FLOORLESS_POSITIONS for e in routine.active_exercises):
        assert "a mat" in ready
    end = routine.active_exercises[-1].technique.position
    closing = texts[-len(POSITIONS.positions[end].finish):]
    assert closing == list(POSITIONS.positions[end].finish)
    if end in FLOORLESS_POSITIONS:
        assert not any("before you get up" in t for t in texts)
    else:
        assert any("roll" in t or "onto your knees" in t or "stand up slowly" in t
                   for t in closing)


@pytest.mark.parametrize("name", ROUTINES)
def test_a_position_is_set_up_once_per_stay(name):
    routine = LIBRARY.routine(name)
    timeline = compiled(routine, pacing_of(name))
    for technique in LIBRARY.techniques.values():
        assert not any(line.startswith("If you are") for line in technique.setup), technique.id
    texts = [e.text for e in timeline.events if e.kind == "speech"]
    # lying on the back for several exercises in a row: said once
    assert texts.count("Lie on your back.") <= sum(
        1 for a, b in zip((None,) + routine.active_exercises, routine.active_exercises)
        if b.technique.position == "back" and (a is None or a.technique.position != "back"))


def test_safety_lines_come_after_the_line_naming_the_limb():
    routine = catalog.load_routine_file(LIBRARY.routines["morning"], LIBRARY)
    timeline = compiled(routine, pacing_of("morning"))
    texts = [e.text for e in timeline.events if e.text]
    for exercise in routine.active_exercises:
        movement, technique = exercise.technique.movement, exercise.technique
        if isinstance(movement, Hold) and movement.on_side and technique.safety:
            named = texts.index(movement.on_side.format(side="left"))
            assert texts.index(technique.safety[0]) > named


@pytest.mark.parametrize("name", ROUTINES)
def test_length_reaches_every_target_from_5_to_60_minutes_within_5_percent(name):
    routine, pacing = LIBRARY.routine(name), pacing_of(name)
    estimate = estimated_speech(pacing.rate)
    for minutes in range(5, 61):
        try:
            fitted = fit_length(routine, pacing, estimate, PHRASES, minutes, POSITIONS)
        except LengthError as err:   # truly out of reach
            assert (err.seconds < minutes * 60 * 0.95 if err.longest
                    else err.seconds > minutes * 60 * 1.05)
            continue
        total = compiled(fitted.routine, fitted.pacing).total_seconds
        assert abs(total - minutes * 60) <= 0.05 * minutes * 60, (name, minutes, total / 60)
        kept = fitted.routine.active_exercises
        assert kept[0] == routine.active_exercises[0] and kept[-1] == routine.active_exercises[-1]


def test_length_leaves_out_by_priority_and_refuses_two_hours_naming_the_longest():
    routine, pacing = LIBRARY.routine("morning"), pacing_of("morning")
    order = [routine.active_exercises[i].technique.id for i in drop_order(routine)]
    assert order[0] == "position-back" and order[-1] == "knee-to-chest"   # priorities 6 .. 2
    estimate = estimated_speech(pacing.rate)
    short = fit_length(routine, pacing, estimate, PHRASES, 8, POSITIONS)
    assert any(n.startswith("left out position-back") for n in short.notes)
    with pytest.raises(LengthError) as refused:   # two hours would repeat past the doses
        fit_length(routine, pacing, estimate, PHRASES, 120, POSITIONS)
    assert refused.value.longest and refused.value.seconds < 7200 * 0.95
    long = fit_length(routine, pacing, estimate, PHRASES, refused.value.seconds / 60, POSITIONS)
    total = compiled(long.routine, long.pacing).total_seconds
    assert abs(total - refused.value.seconds) <= 0.05 * refused.value.seconds
    for exercise in long.routine.active_exercises:   # still within every dose
        movement = exercise.technique.movement
        if isinstance(movement, Hold):
            low, high = movement.range
            assert low <= [h for h in compiled(long.routine, long.pacing).holds
                           if h.technique == exercise.technique.id][0].length / SAMPLE_RATE <= high


def test_phrase_variants_are_chosen_by_date():
    for key in loader.VARIANT_KEYS:
        assert 2 <= len(PHRASES.variants[key]) <= 4, key
    day = datetime.date(2026, 3, 1)
    assert catalog.load_phrases(day=day) == catalog.load_phrases(day=day)
    days = [day + datetime.timedelta(days=n) for n in range(20)]
    openings = {catalog.load_phrases(day=d).opening for d in days}
    assert len(openings) >= 2   # the tenth session does not sound like the first


def _spoken_lines() -> list[str]:
    lines = []
    for value in PHRASES.variants.values():
        for variant in value:
            lines += [variant] if isinstance(variant, str) else list(variant)
    for name in ("intro", "daily_limit", "notice", "recording_rest", "release", "pain_rose"):
        lines += list(getattr(PHRASES, name))
    lines += [PHRASES.pain_question, PHRASES.daily_limit_question, PHRASES.form_breath,
              PHRASES.stop_any_time]
    lines += [PHRASES.stop_ease, PHRASES.stop_still, PHRASES.stop_rest, PHRASES.stop_get_up,
              PHRASES.eyes_open, *PHRASES.stop_help]
    lines += list(PHRASES.acknowledge.values())
    for position in POSITIONS.positions.values():
        lines += list(position.settle + position.rest + position.finish)
    for move in POSITIONS.moves:
        lines += list(move.say)
    for technique in LIBRARY.techniques.values():
        movement = technique.movement
        lines += list(technique.setup + technique.safety + technique.release)
        lines += [technique.form] if technique.form else []
        lines += list(getattr(movement, "reminders", ()))
        lines += [getattr(movement, k) for k in ("on_side", "inhale", "exhale")
                  if getattr(movement, k, None)]
        lines += [step.say for step in getattr(movement, "steps", ())]
        lines += list(technique.kept.say + technique.kept.release) if technique.kept else []
    return lines


def _copied(lines) -> list[str]:
    """The lines that share a run of six words with the source texts."""
    source = set(NGRAMS.read_text().split())
    assert len(source) > 1000
    return [line for line in lines if ngram_hashes(line) & source]


def test_no_spoken_line_shares_six_words_with_the_source_texts():
    assert _copied(_spoken_lines() + [CONFIRM_STOP_QUESTION]) == []


def test_the_stored_hashes_cover_both_articles_and_the_restored_english():
    """Source B's garbled wording hides copies of its real wording: the hashes are
    made from its restored English too (scripts/source_ngrams.py)."""
    stored = set(NGRAMS.read_text().split())
    for run in ("draw your belly button in toward your spine",      # restored English only
                "numbness, tingling, or weakness in your legs or feet"):
        assert ngram_hashes(run) <= stored, run
    texts = [SOURCES / name for name in SOURCE_TEXTS]
    if not all(path.exists() for path in texts):
        pytest.skip(f"the source texts are not in {SOURCES}")
    assert set().union(*(ngram_hashes(p.read_text(encoding="utf-8")) for p in texts)) == stored


@pytest.mark.parametrize("name", ROUTINES)
def test_no_line_the_installed_command_shows_shares_six_words_with_the_sources(name):
    shown = run_voiceguide("show", name, "--json")
    assert shown.returncode == 0, shown.stderr
    lines = [e["text"] for e in json.loads(shown.stdout)["events"] if e.get("text")]
    assert lines and _copied(lines) == []


def test_every_spoken_line_in_the_library_cites_its_facts_item():
    """A "# FACTS:" comment heads each group of keys (a group ends at a blank line);
    positions and moves carry a ``facts`` key; techniques their ``source``."""
    cited, keys = False, {}
    for line in (LIBRARY_DIR / "phrases.toml").read_text().splitlines():
        if not line.strip():
            cited = False
        elif line.startswith("#"):
            cited = cited or "FACTS" in line
        else:
            key = re.match(r"\[?([a-z_]+)\]?\s*(=|$)", line)
            if key:
                keys[key.group(1)] = cited
    data = tomlfile.read_toml(LIBRARY_DIR / "phrases.toml")[0]
    assert set(data) <= set(keys)
    assert [key for key in data if not keys[key]] == []
    positions = tomlfile.read_toml(LIBRARY_DIR / "positions.toml")[0]
    for name, table in positions["position"].items():
        assert table.get("facts"), name
    for move in positions["move"]:
        assert move.get("facts"), move
    for technique in LIBRARY.techniques.values():
        assert technique.source.startswith("FACTS"), technique.id


# ----------------------------------------------------------- the installed command

def test_doses_are_clamped_with_a_line_on_stderr_unless_beyond_doses():
    result = run_voiceguide("show", "morning", "--hold", "120", "--reps", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert "knee-to-chest: hold 120 s clamped to 30 s" in result.stderr
    assert "cat-cow: reps 1 clamped to 10" in result.stderr
    holds = json.loads(result.stdout)["holds"]
    assert max(h["duration"] for h in holds if h["technique"] == "knee-to-chest") == 30
    beyond = run_voiceguide("show", "morning", "--hold", "120", "--beyond-doses", "--json")
    assert "clamped" not in beyond.stderr
    assert {h["duration"] for h in json.loads(beyond.stdout)["holds"]} == {120}
    help_text = run_voiceguide("show", "--help").stdout
    assert "outside the sources' doses" in " ".join(help_text.split())


def test_length_below_the_shortest_version_exits_2_naming_it():
    result = run_voiceguide("show", "morning", "--length", "2")
    assert result.returncode == 2
    assert re.search(r"the shortest safe version of morning .* is \d+\.\d minutes", result.stderr)
    assert "Traceback" not in result.stderr
    fitted = run_voiceguide("show", "morning", "--length", "7", "--json")
    assert fitted.returncode == 0 and "left out" in fitted.stderr


def test_list_gives_the_length_show_gives(tmp_path):
    env = dict(os.environ, VOICEGUIDE_DATE="2026-05-04")
    shown = {}
    for name in ("quick", "morning"):
        shown[name] = json.loads(run_voiceguide("show", name, "--json", env=env).stdout)
    listing = json.loads(run_voiceguide("list", "--json", env=env).stdout)
    for routine in listing["routines"]:
        if routine["name"] in shown:
            real = shown[routine["name"]]["total_seconds"] / 60
            assert not routine["estimated"]
            assert abs(routine["minutes"] - real) <= 0.02 * real


def test_show_play_and_export_of_one_day_say_the_same(tmp_path):
    one = dict(os.environ, VOICEGUIDE_DATE="2026-05-04")
    first = json.loads(run_voiceguide("show", "quick", "--json", "--for", "export",
                                      env=one).stdout)
    again = json.loads(run_voiceguide("show", "quick", "--json", "--for", "export",
                                      env=one).stdout)
    assert first == again
    days = {json.dumps(json.loads(run_voiceguide("show", "quick", "--json",
                                                 env=dict(os.environ, VOICEGUIDE_DATE=d))
                                  .stdout)["events"]) for d in ("2026-05-04", "2026-05-05",
                                                                  "2026-05-06", "2026-05-07")}
    assert len(days) >= 2
    out = tmp_path / "quick.wav"
    result = run_voiceguide("export", "quick", "-o", out, env=one)
    assert result.returncode == 0, result.stderr
    with wave.open(str(out)) as w:
        assert w.getnframes() == first["total_samples"]
        audio = np.frombuffer(w.readframes(samples(15)), np.int16)
    notice = [e for e in first["events"] if e.get("text") in PHRASES.notice]
    assert len(notice) == len(PHRASES.notice) and notice[-1]["start"] + notice[-1]["duration"] <= 15
    assert np.abs(audio[:samples(notice[0]["duration"])]).max() > 1000   # it is heard


def _day_of_each_variant(key: str) -> list[str]:
    """A date for each variant of ``key``, so the installed command says each once."""
    count, days = len(PHRASES.variants[key]), {}
    day = datetime.date(2026, 1, 1)
    while len(days) < count:
        days.setdefault(loader.choose_variant(tuple(range(count)), key, day), day.isoformat())
        day += datetime.timedelta(days=1)
    return sorted(days.values())


REASONS_THE_SOURCES_GIVE_ONLY_FOR_POPPING = re.compile(
    r"weak(en|er)\b|ligament|instab|less stable|loosen", re.IGNORECASE)


def test_the_closing_and_daily_limit_keep_the_limit_without_popping_reasons():
    """FACTS: once or twice a day; weakened muscles and ligaments is said of popping."""
    for day in _day_of_each_variant("closing"):
        shown = run_voiceguide("show", "quick", "--json",
                               env=dict(os.environ, VOICEGUIDE_DATE=day))
        timeline = json.loads(shown.stdout)
        closing = next(s for s in timeline["sections"] if s["title"] == "Closing")
        said = " ".join(e["text"] for e in timeline["events"]
                        if e.get("text") and e["start"] >= closing["start"])
        assert "twice a day" in said.lower(), day
        assert not REASONS_THE_SOURCES_GIVE_ONLY_FOR_POPPING.search(said), (day, said)
    limit = " ".join(PHRASES.daily_limit)
    assert "twice a day" in limit and not REASONS_THE_SOURCES_GIVE_ONLY_FOR_POPPING.search(limit)


CORE_THEN_PRESSURE = ('title = "Core then pressure"\n[[exercise]]\ntechnique = "marching"\n'
                       'hold = 30\n[[exercise]]\ntechnique = "core-engage-wall"\nreps = 2\n'
                       '[[exercise]]\ntechnique = "gentle-pressure-standing"\nreps = 3\n')


def _kept_engagements(shown: dict) -> list[tuple]:
    """(engagement, the technique it protects, the engagement section's lines, the
    protected section's lines) for each engagement followed by what it protects."""
    texts = [[e["text"] for e in shown["events"] if e["section"] == i and e.get("text")]
             for i in range(len(shown["sections"]))]
    ids = [section["technique"] for section in shown["sections"]] + [None]
    found = []
    for i, technique_id in enumerate(ids[:-1]):
        technique = LIBRARY.techniques.get(technique_id or "")
        if technique is not None and technique.kept and ids[i + 1] in technique.kept.into:
            found.append((technique, LIBRARY.techniques[ids[i + 1]], texts[i], texts[i + 1]))
    return found


@pytest.mark.parametrize("routine", ["lower-back", "core-then-pressure"])
def test_the_core_stays_engaged_into_the_pressure_and_is_released_after_it(routine,
                                                                          tmp_path):
    """FACTS: source B point 4, keep the engagement going through the pressure."""
    if routine == "core-then-pressure":
        routine = tmp_path / "core-then-pressure.toml"
        routine.write_text(CORE_THEN_PRESSURE)
    shown = run_voiceguide("show", routine, "--json")
    assert shown.returncode == 0, shown.stderr
    [(core, pressure, here, there)] = _kept_engagements(json.loads(shown.stdout))
    assert here[-len(core.kept.say):] == list(core.kept.say)     # not "Let the muscles soften."
    assert not set(core.release) & set(there)
    pressed = max(there.index(step.say) for step in pressure.movement.steps)
    released = there.index(pressure.release[-1])
    assert pressed < released
    assert there[released + 1:released + 1 + len(core.kept.release)] == list(core.kept.release)


def test_without_the_pressure_next_the_core_is_released_as_usual():
    """quick ends with the core hold against the wall (its pressure is skipped)."""
    timeline = json.loads(run_voiceguide("show", "quick", "--json").stdout)
    assert _kept_engagements(timeline) == []
    core = LIBRARY.techniques["core-engage-wall"]
    section = next(i for i, s in enumerate(timeline["sections"]) if s["technique"] == core.id)
    said = [e["text"] for e in timeline["events"] if e["section"] == section and e.get("text")]
    assert said[-len(core.release):] == list(core.release) and core.kept.say[0] not in said


@pytest.mark.parametrize("name", ROUTINES)
def test_the_opening_of_play_says_stop_works_at_any_moment_and_it_does(name):
    """Said where keys and voice are heard: the s key and the word stop, which stop
    at every check-in and between them (the dialogue's stop_key)."""
    line = PHRASES.stop_any_time
    played = [e.text for e in compiled(LIBRARY.routine(name), pacing_of(name)).events
              if e.text]
    assert played.index(line) == played.index(PHRASES.checkin_intro) + 1
    assert played.index(line) < played.index(PHRASES.pain_question)
    assert "any moment" in line and "press the s key" in line and "say stop" in line
    assert all(KEYS[gate]["s"] == STOP for gate in (Gate.BASELINE, Gate.BETWEEN, Gate.FINAL))
    assert STOP in COMMANDS and STOP in STOP_WORDS
    shown = json.loads(run_voiceguide("show", name, "--for", "export", "--json").stdout)
    assert line not in [e.get("text") for e in shown["events"]]   # a recording: no keys
