"""Compiler properties over pacing values (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from voiceguide import catalog
from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.timing.dosing import breath_phases, dose_notes, hold_seconds, rounds
from voiceguide.routine.model import Exercise, Routine
from voiceguide.routine.pacing import BreathPattern, Pacing, parse_pace
from voiceguide.timing.timeline import Audience, samples

LIBRARY = catalog.load_library()
T = LIBRARY.techniques


def compile_with(routine: Routine, pacing: Pacing, audience: Audience = Audience.PLAY):
    return compile_routine(routine, pacing, estimated_speech(pacing.rate), LIBRARY.phrases,
                          LIBRARY.positions, audience)


def routine_of(*exercises: Exercise) -> Routine:
    return Routine("test", "Test", tuple(exercises))


paces = st.floats(min_value=0.5, max_value=2.0, allow_nan=False)
holds = st.integers(min_value=1, max_value=60).map(lambda n: 5 * n)   # 5-300, whole 5 s
rates = st.integers(min_value=80, max_value=300)
breaths = st.builds(BreathPattern, st.integers(1, 12), st.integers(0, 12),
                    st.integers(1, 12), st.integers(0, 12))


def assert_consistent(timeline):
    for before, after in zip(timeline.events, timeline.events[1:]):
        assert after.start == before.end


@settings(max_examples=60, deadline=None)
@given(pace=paces, hold=holds, rate=rates)
def test_a_hold_is_exact_from_start_cue_to_release(pace, hold, rate):
    routine = routine_of(Exercise(T["knee-to-chest"]), Exercise(T["childs-pose"]))
    timeline = compile_with(routine, Pacing(pace=pace, hold=hold, rate=rate, beyond_doses=True))
    assert_consistent(timeline)
    assert len(timeline.holds) == 3  # two sides, then child's pose
    starts = {e.start: e for e in timeline.events}
    release_texts = set(T["knee-to-chest"].release) | set(T["childs-pose"].release)
    for span in timeline.holds:
        assert span.length == samples(hold)
        release = starts[span.start + span.length]  # an event starts exactly there
        assert release.kind == "speech" and release.text in release_texts
        inside = [e for e in timeline.events if span.start <= e.start < span.start + span.length]
        assert sum(e.length for e in inside) == span.length


@settings(max_examples=40, deadline=None)
@given(pace=paces)
def test_default_holds_stay_in_the_technique_range(pace):
    for technique_id in ("knee-to-chest", "childs-pose", "spinal-twist"):
        technique = T[technique_id]
        value = hold_seconds(Exercise(technique), Pacing(pace=pace))
        low, high = technique.movement.range
        assert low <= value <= high


@settings(max_examples=30, deadline=None)
@given(breath=breaths, rate=rates)
def test_slow_is_never_shorter_than_normal_or_fast(breath, rate):
    routine = LIBRARY.routine("quick")
    lengths = [compile_with(routine, Pacing(pace=parse_pace(p), breath=breath, rate=rate))
               .total_samples for p in ("slow", "normal", "fast")]
    assert lengths[0] >= lengths[1] >= lengths[2]


@settings(max_examples=40, deadline=None)
@given(reps=st.integers(1, 30), breath=breaths, pace=paces)
def test_reps_sets_the_number_of_breath_rounds(reps, breath, pace):
    routine = routine_of(Exercise(T["cat-cow"]))
    timeline = compile_with(routine, Pacing(pace=pace, reps=reps, breath=breath,
                                            beyond_doses=True))
    assert sum(e.cue == "inhale" for e in timeline.events) == reps
    assert sum(e.cue == "exhale" for e in timeline.events) == reps
    pattern = breath_phases(Pacing(pace=pace, breath=breath, beyond_doses=True))
    assert pattern[1:4:2] == [samples(breath.hold_in * pace), samples(breath.hold_out * pace)]
    assert pattern[0] == max(samples(1), samples(breath.inhale * pace))
    inhales = [e.start for e in timeline.events if e.cue == "inhale"]
    for a, b in zip(inhales, inhales[1:]):
        assert b - a == sum(pattern)  # every breath lasts exactly the pattern


@settings(max_examples=40, deadline=None)
@given(breath=breaths, pace=paces)
def test_breath_phases_stay_within_the_safe_limits_unless_beyond_doses(breath, pace):
    pattern = breath_phases(Pacing(pace=pace, breath=breath))
    assert min(pattern[0], pattern[2]) >= samples(2)      # no breath in or out under 2 s
    assert max(pattern[1], pattern[3]) <= samples(4)      # no breath hold over 4 s


def test_a_breath_hold_is_spoken_as_a_hold():
    timeline = compile_with(routine_of(Exercise(T["cat-cow"], reps=10)),
                            Pacing(breath=BreathPattern(4, 4, 4, 4)))
    holds = [e for e in timeline.events if e.text == LIBRARY.phrases.breath_hold]
    assert LIBRARY.phrases.breath_hold == "Hold." and len(holds) == 2 * 10
    cues_only = compile_with(routine_of(Exercise(T["cat-cow"], reps=10)),
                             Pacing(breath=BreathPattern(4, 4, 4, 4), voice_guidance="cues-only"))
    assert sum(e.cue == "tick" for e in cues_only.events) >= 2 * 10


def test_breath_rounds_are_counted_aloud():
    timeline = compile_with(routine_of(Exercise(T["cat-cow"], reps=5)), Pacing(breath=BreathPattern(5, 0, 6, 0)))
    spoken = [e.text for e in timeline.events if e.kind == "speech"]
    assert "3." in spoken and "4." in spoken and LIBRARY.phrases.last_round in spoken


def test_sides_announce_left_switch_right():
    timeline = compile_with(routine_of(Exercise(T["knee-to-chest"])), Pacing())
    texts = [e.text or e.cue for e in timeline.events]
    left, switch, right = (texts.index(LIBRARY.phrases.left_side), texts.index("switch"),
                           texts.index(LIBRARY.phrases.right_side))
    assert left < switch < right
    assert [h.side for h in timeline.holds] == ["left", "right"]


def test_exercise_hold_scales_with_pace_within_range_and_pacing_hold_wins():
    routine = routine_of(Exercise(T["knee-to-chest"], hold=22, sides=False))
    assert [h.length for h in compile_with(routine, Pacing()).holds] == [samples(20)]  # 5 s steps
    slow = compile_with(routine, Pacing(pace=1.3)).holds
    assert [h.length for h in slow] == [samples(30)]  # 22 x 1.3 = 28.6, to the next 5 s
    slower = compile_with(routine, Pacing(pace=2.0)).holds
    assert [h.length for h in slower] == [samples(30)]  # kept within the 20-30 s dose
    assert [h.length for h in compile_with(routine, Pacing(hold=25)).holds] == [samples(25)]


def test_cycle_steps_are_exact_and_counted():
    technique = T["gentle-pressure"]
    timeline = compile_with(routine_of(Exercise(technique, reps=3)), Pacing(pace=1.0))
    assert rounds(Exercise(technique, reps=3), Pacing()) == 3
    first_step = technique.movement.steps[0].say
    starts = [e.start for e in timeline.events if e.text == first_step]
    cycle = samples(sum(s.seconds for s in technique.movement.steps))
    assert len(starts) == 3
    spoken = [e.text for e in timeline.events]
    assert LIBRARY.phrases.round_of.format(n=2, total=3) in spoken
    for a, b in zip(starts, starts[1:]):
        round_words = [e for e in timeline.events if a < e.start < b and e.text and "Round" in e.text]
        assert b - a == cycle + sum(e.length for e in round_words) + samples(0.3)


def test_hold_and_reps_are_clamped_to_the_dose_unless_beyond_doses():
    routine = routine_of(Exercise(T["knee-to-chest"]), Exercise(T["cat-cow"]))
    asked = Pacing(hold=120, reps=1)
    clamped = compile_with(routine, asked)
    assert {h.length for h in clamped.holds} == {samples(30)}
    assert sum(e.cue == "inhale" for e in clamped.events) == 10
    notes = dose_notes(routine, asked)
    assert any("knee-to-chest: hold 120 s clamped to 30 s" in n for n in notes)
    assert any("cat-cow: reps 1 clamped to 10" in n for n in notes)
    beyond = compile_with(routine, Pacing(hold=120, reps=1, beyond_doses=True))
    assert {h.length for h in beyond.holds} == {samples(120)}
    assert sum(e.cue == "inhale" for e in beyond.events) == 1
    assert dose_notes(routine, Pacing(hold=120, reps=1, beyond_doses=True)) == []


def test_cues_only_speaks_only_safety_moves_and_check_ins():
    """Cues-only leaves out the instructions, never a move: no position changes blind."""
    routine = routine_of(Exercise(T["knee-to-chest"]), Exercise(T["cat-cow"]))
    phrases = LIBRARY.phrases
    allowed = (set(phrases.opening) | set(phrases.closing)
               | set(LIBRARY.positions.positions["all-fours"].finish)
               | {phrases.routine_title.format(title="Test")})
    timeline = compile_with(routine, Pacing(voice_guidance="cues-only"))
    spoken = {e.text for e in timeline.events if e.kind == "speech"}
    moves = {text for move in LIBRARY.positions.moves for text in move.say}
    assert spoken <= allowed | {phrases.checkin_intro, phrases.stop_any_time} | moves
    assert spoken & moves   # standing -> back -> all fours, every move said
    assert any(e.kind == "checkin" for e in timeline.events)
    assert len(timeline.holds) == 2
    # a recording in cues only still says it cannot hear, and rests at each spot
    recording = compile_with(routine, Pacing(voice_guidance="cues-only"), Audience.EXPORT)
    spoken = [e.text for e in recording.events if e.kind == "speech"]
    assert set(spoken) <= allowed | set(phrases.notice) | set(phrases.recording_rest) | moves
    assert sum(text in phrases.recording_rest for text in spoken) == 3   # baseline, between, final
    assert not any(e.kind == "checkin" for e in recording.events)
