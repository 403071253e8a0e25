"""The built-in library: every technique and safety point of the facts file, and
every built-in routine compiles into a consistent timeline."""

from __future__ import annotations

import pytest

from voiceguide import catalog
from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.routine.model import FLOORLESS_POSITIONS, Breath, Cycle, Flow, Hold
from voiceguide.routine.pacing import Pacing
from voiceguide.timing.timeline import SAMPLE_RATE

LIBRARY = catalog.load_library()
ROUTINES = sorted(LIBRARY.routines)

# Every technique in ../shared/sources/FACTS.md and the id that covers it.
FACTS_TECHNIQUES = {
    "knee-to-chest": Hold, "cat-cow": Breath, "childs-pose": Hold,
    "hamstring-stretch": Hold, "spinal-twist": Hold, "marching": Flow,
    "pelvic-tilt": Breath, "hip-flexor-stretch": Hold, "quad-stretch": Hold,
    "position-back": Hold, "position-side": Hold, "position-all-fours": Hold,
    "position-wall": Hold, "core-engage": Hold, "gentle-pressure": Cycle,
}
# Doses the facts file gives (seconds for holds, rounds for cat-cow).
FACTS_DOSES = {"knee-to-chest": (20, 30), "hamstring-stretch": (20, 30),
               "spinal-twist": (20, 30), "childs-pose": (30, 60), "cat-cow": (10, 15)}


def compile_default(name: str, pacing: Pacing = Pacing()):
    routine = LIBRARY.routine(name)
    return compile_routine(routine, pacing, estimated_speech(pacing.rate), LIBRARY.phrases,
                          LIBRARY.positions)


def test_every_fact_technique_is_in_the_library():
    for technique_id, kind in FACTS_TECHNIQUES.items():
        assert technique_id in LIBRARY.techniques, technique_id
        assert isinstance(LIBRARY.techniques[technique_id].movement, kind), technique_id
        assert LIBRARY.techniques[technique_id].source, f"{technique_id} names no source"


def test_doses_come_from_the_facts_file():
    for technique_id, (low, high) in FACTS_DOSES.items():
        movement = LIBRARY.techniques[technique_id].movement
        default = movement.rounds if isinstance(movement, Breath) else movement.seconds
        assert tuple(movement.range) == (low, high)
        assert low <= default <= high


def test_per_side_stretches_do_both_sides():
    for technique_id in ("knee-to-chest", "hamstring-stretch", "spinal-twist"):
        assert LIBRARY.techniques[technique_id].movement.sides


def test_stop_signs_and_seeking_help_are_spoken():
    variants = LIBRARY.phrases.variants
    for opening in variants["opening"]:
        text = " ".join(opening).lower()
        for sign in ("sharp", "shooting", "numbness", "tingling", "weak"):
            assert sign in text
        assert "increase" in text or "grows" in text           # increased pain
    for stop in variants["stop_message"]:
        text = " ".join(stop).lower()
        assert "professional" in text and "at once" in text
        assert "increased pain" in text or "growing" in text
        assert "after you have stopped" in text or "persists after stopping" in text
    for closing in variants["closing"]:
        text = " ".join(closing).lower()
        assert "twice a day" in text and ("professional" in text or "doctor" in text)
    assert "at once" in " ".join(LIBRARY.phrases.intro)


def test_the_four_routines_exist():
    assert {"morning", "evening", "lower-back", "quick"} <= set(ROUTINES)


@pytest.mark.parametrize("name", ROUTINES)
def test_routine_timeline_is_consistent(name):
    timeline = compile_default(name)
    events = timeline.events
    assert events[0].start == 0
    for before, after in zip(events, events[1:]):
        assert after.start == before.end, "no gap, no overlap"
    assert timeline.total_samples == sum(e.length for e in events)
    assert all(e.length > 0 for e in events)
    assert all(e.kind in ("speech", "cue", "silence", "checkin") for e in events)
    starts = [s.start for s in timeline.sections]
    assert starts == sorted(starts) and starts[0] == 0
    assert sum(s.length for s in timeline.sections) == timeline.total_samples
    # pain before and after, and one check-in gate between consecutive exercises
    exercises = len(LIBRARY.routine(name).active_exercises)
    assert sum(e.kind == "checkin" for e in events) == exercises + 1
    gates = [e.gate for e in events if e.kind == "checkin"]
    assert gates == ["baseline"] + ["between"] * (exercises - 1) + ["final"]


def test_morning_and_quick_lengths():
    """As the README and the routine files say (about 15.5 and 6 minutes)."""
    assert 14.5 * 60 <= compile_default("morning").total_seconds <= 16.5 * 60
    assert 5.5 * 60 <= compile_default("quick").total_seconds <= 6.75 * 60
    assert compile_default("evening").total_seconds > 8 * 60


def test_quick_needs_no_floor():
    for exercise in LIBRARY.routine("quick").active_exercises:
        assert exercise.technique.position in FLOORLESS_POSITIONS, exercise.technique.id


def test_morning_starts_with_a_warm_up_and_lower_back_follows_source_b():
    assert LIBRARY.routine("morning").active_exercises[0].technique.id == "marching"
    ids = [e.technique.id for e in LIBRARY.routine("lower-back").active_exercises]
    order = [ids.index(i) for i in ("marching", "position-back", "core-engage",
                                    "gentle-pressure", "knee-to-chest")]
    assert order == sorted(order)


def test_evening_holds_longer_than_morning():
    def mean_hold(name):
        holds = compile_default(name).holds
        return sum(h.length for h in holds) / len(holds) / SAMPLE_RATE

    assert mean_hold("evening") > mean_hold("morning")
