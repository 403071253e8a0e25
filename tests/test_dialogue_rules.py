"""The dialogue's rules, in process and fast: every answer at every gate, what it
records in the history, and what the player is asked to do.

Everything is real (the routine prepared with real speech, the phrases and
positions of the library, the history in SQLite on a temporary file, the
inbox) except the player's sound, which cannot exist here: :class:`FakeStage`
stands for the player behind the dialogue's
:class:`~voiceguide.session.dialogue.Stage` port and records what it is asked.
A voice answer is put in the inbox once the gate is open (at the stage's first
tick, as a person answers after the question); a key is pressed before. The
check-in timeout is 20 ms, so a timeout costs no more. The real-audio tests of
the same dialogue are in test_dialogue.py, test_confirm_stop.py and test_play.py.
"""

from __future__ import annotations

import inspect

import pytest

from tests.support.cli import FIXED_DAY, TWO
from voiceguide.history import History
from voiceguide.session import prepare as preparing
from voiceguide.session.checkin import SEVERE_PAIN, Answer, Inbox
from voiceguide.session.dialogue import Dialogue, Questions, Stage, stop_path_at
from voiceguide.session.player import Player
from voiceguide.timing.timeline import EventKind, Gate, Timeline
from voiceguide.vocabulary import NUMBERS

THREE = TWO + '[[exercise]]\ntechnique = "knee-to-chest"\nhold = 20\n'
TIMEOUT = 0.02


class FakeStage:
    """The player's side of the port, with no sound: what play would do, recorded.

    ``keys`` are pressed before the gate opens; ``say`` is put in the inbox at
    the first tick, as (word, sure) pairs.
    """

    def __init__(self, timeline: Timeline, sample: int = 0, inbox: Inbox | None = None,
                 keys: str = "", say=()):
        self.timeline, self.sample, self.inbox = timeline, sample, inbox
        self.ending = "completed"
        self.paused = False
        self.pressed = list(keys)
        self.say = list(say)
        self.asked: list[str] = []    # what was done, in order
        self.notes: list[str] = []
        self.kept: list[str] = []
        self.help = None
        self.ticks = 0

    def where(self):
        return self.timeline, self.sample

    def seek(self, sample, timeline=None):
        self.timeline = timeline if timeline is not None else self.timeline
        self.sample = sample
        self.asked.append(f"seek {self.timeline.routine} {sample}")

    def hush(self):
        self.asked.append("hush")

    def resume(self):
        self.paused = False
        self.asked.append("resume")

    def control(self, word):
        self.asked.append(f"control {word}")

    def note(self, text):
        self.notes.append(text)

    def ask(self, keys):
        self.help = keys

    def keep(self, key):
        self.kept.append(key)

    def poll_keys(self):
        pressed, self.pressed = self.pressed, []
        return pressed

    def tick(self):
        self.ticks += 1
        for word, sure in self.say:
            self.inbox.put(word, "voice", sure)
        self.say = []

    def finish(self, ending):
        self.ending = ending
        self.asked.append(f"finish {ending}")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, shared_cache):
    """Three exercises (on the back, kneeling, on the back), prepared once with
    real speech, as play prepares them (no spoken notice)."""
    with pytest.MonkeyPatch.context() as env:
        home = tmp_path_factory.mktemp("rules")
        env.setenv("VOICEGUIDE_DATE", FIXED_DAY)
        env.setenv("XDG_CACHE_HOME", str(shared_cache))
        env.setenv("XDG_CONFIG_HOME", str(home / "config"))
        env.setenv("XDG_DATA_HOME", str(home / "data"))
        path = home / "three.toml"
        path.write_text(THREE)
        prepared = preparing.prepare_named(str(path), {})
    yield prepared
    prepared.speech.close()


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.db") as db:
        yield db


@pytest.fixture
def dialogue(prepared, history):
    session = history.start(prepared.routine.name, prepared.routine.title, {})
    return Dialogue(prepared, Inbox(), TIMEOUT, history, session)


def gate(prepared, which: Gate, nth: int = 0):
    return [e for e in prepared.timeline.events if e.gate == which][nth]


def answer_at(dialogue, event, keys="", say=(), stage=None):
    """Open the gate of ``event`` with ``keys`` pressed and ``say`` said: (result, stage)."""
    stage = stage or FakeStage(dialogue.prepared.timeline, event.start, dialogue.inbox,
                               keys, say)
    stage.pressed, stage.say = list(keys), list(say)
    return dialogue.at_gate(stage, event), stage


def rows(history):
    return [(c["answer"], c["source"], c["section"]) for c in history.sessions()[0].checkins]


def rest_lines(prepared, position: str, moving: bool = False) -> list[str]:
    """The stop path from ``position``: stop, ease out (or stop moving), rest there,
    the stop signs and how to get help, then up from there step by step."""
    phrases = prepared.library.phrases
    place = prepared.library.positions.positions[position]
    ease = phrases.stop_still if moving else phrases.stop_ease
    up = [phrases.stop_get_up] if "mat" in place.needs else []   # from the floor
    return [phrases.stop_message[0], ease, *place.rest, *phrases.stop_message[1:],
            *phrases.stop_help, phrases.stop_rest, *up, *place.finish]


def spoken(timeline: Timeline) -> list[str]:
    return [e.text for e in timeline.events if e.kind == EventKind.SPEECH]


def acknowledged(result, prepared) -> str:
    """The words of an acknowledgement, which ends with a continue gate."""
    timeline, position = result
    assert timeline.routine == "ack" and position == 0
    [last] = [e for e in timeline.events if e.gate == Gate.CONTINUE]
    return last.text


# --- the port ------------------------------------------------------------------

def test_the_player_is_a_stage():
    """Every method the dialogue may call on a stage, the real player has."""
    wanted = {name for name, _ in inspect.getmembers(Stage, inspect.isfunction)
              if not name.startswith("_")}
    assert wanted and all(callable(getattr(Player, name, None)) for name in wanted)
    assert all(callable(getattr(FakeStage, name, None)) for name in wanted)


# --- the pain questions, before and after --------------------------------------

@pytest.mark.parametrize("which", [Gate.BASELINE, Gate.FINAL])
@pytest.mark.parametrize("number", NUMBERS)
def test_a_pain_number_is_recorded_and_acknowledged(prepared, dialogue, history, which,
                                                    number):
    event = gate(prepared, which)
    result, stage = answer_at(dialogue, event, say=[(number, True)])
    if which == Gate.BASELINE and int(number) >= SEVERE_PAIN:   # see the test below
        assert stage.ending == "not-today"
    else:
        assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["pain"]
        assert dialogue.resume_at == event.end and stage.ending == "completed"
    assert stage.notes == [f"{event.text} {number} (voice)"]
    section = prepared.timeline.sections[event.section].title
    assert rows(history) == [(number, "voice", section)]
    record = history.sessions()[0]
    assert (record.baseline, record.final) == ((int(number), None) if which == Gate.BASELINE
                                               else (None, int(number)))


@pytest.mark.parametrize("key, number", [("0", "0"), ("7", "7"), ("t", "10"), ("T", "10")])
def test_a_pain_number_by_key(prepared, dialogue, history, key, number):
    result, stage = answer_at(dialogue, gate(prepared, Gate.BASELINE), keys=key)
    if int(number) < SEVERE_PAIN:
        assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["pain"]
    assert rows(history)[0][:2] == (number, "key")
    assert history.sessions()[0].baseline == int(number)


@pytest.mark.parametrize("number", ["7", "8", "9", "10"])
def test_a_first_pain_of_7_or_more_leads_into_no_exercise(prepared, dialogue, history,
                                                          number):
    """Severe pain is for a professional first: the guide says why, calmly, and what
    to do; nothing of the routine follows, and the score is kept."""
    (timeline, start), stage = answer_at(dialogue, gate(prepared, Gate.BASELINE),
                                         say=[(number, True)])
    assert timeline.routine == "not-today" and start == 0
    assert spoken(timeline) == list(prepared.library.phrases.not_today)
    assert stage.ending == "not-today" and dialogue.resume_at is None
    assert history.sessions()[0].baseline == int(number)


def test_a_first_pain_of_6_goes_on(prepared, dialogue):
    result, stage = answer_at(dialogue, gate(prepared, Gate.BASELINE), say=[("6", True)])
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["pain"]
    assert stage.ending == "completed"


def test_after_the_acknowledgement_the_routine_goes_on_after_the_question(prepared,
                                                                          dialogue):
    event = gate(prepared, Gate.BASELINE)
    ack, stage = answer_at(dialogue, event, keys="4")
    [then] = [e for e in ack[0].events if e.gate == Gate.CONTINUE]
    assert dialogue.at_gate(stage, then) == (prepared.timeline, event.end)


def closing_heard_after(prepared, sample: int) -> list[str]:
    """The lines the routine says from ``sample`` to its end."""
    return [e.text for e in prepared.timeline.events if e.start >= sample and e.text]


@pytest.mark.parametrize("first, last", [("3", "5"), ("0", "1"), ("9", "10")])
def test_a_last_pain_score_above_the_first_says_so_and_what_to_do(prepared, dialogue,
                                                                 history, first, last):
    """Increased pain is a stop sign (FACTS): never "Well done." after it."""
    phrases = prepared.library.phrases
    answer_at(dialogue, gate(prepared, Gate.BASELINE), say=[(first, True)])
    result, stage = answer_at(dialogue, gate(prepared, Gate.FINAL), say=[(last, True)])
    said = spoken(result[0]) + [acknowledged(result, prepared)]
    assert said == list(phrases.pain_rose)
    text = " ".join(said).lower()
    assert "higher" in text and "stop these exercises" in text and "doctor" in text
    after = closing_heard_after(prepared, dialogue.resume_at)
    position = prepared.routine.active_exercises[-1].technique.position
    assert after == list(prepared.library.positions.positions[position].finish)
    assert not any("well done" in line.lower() for line in said + after)
    assert stage.ending == "completed"
    record = history.sessions()[0]
    assert (record.baseline, record.final) == (int(first), int(last))


@pytest.mark.parametrize("first, last", [("5", "5"), ("5", "2"), (None, "8")])
def test_a_last_pain_score_not_above_the_first_hears_the_closing(prepared, dialogue, first,
                                                                 last):
    if first is not None:
        answer_at(dialogue, gate(prepared, Gate.BASELINE), say=[(first, True)])
    event = gate(prepared, Gate.FINAL)
    result, _ = answer_at(dialogue, event, say=[(last, True)])
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["pain"]
    after = closing_heard_after(prepared, dialogue.resume_at)
    assert after[:len(prepared.library.phrases.closing)] == list(prepared.library.phrases.closing)


@pytest.mark.parametrize("which, position", [(Gate.BASELINE, "standing"),
                                             (Gate.FINAL, "back")])
def test_stop_at_a_pain_question_takes_the_stop_path(prepared, dialogue, history, which,
                                                     position):
    event = gate(prepared, which)
    (timeline, start), stage = answer_at(dialogue, event, say=[("stop", True)])
    assert timeline.routine == "stop" and start == 0 and stage.ending == "stopped"
    # before the routine: still standing, not yet led down; at the last question: in
    # the last exercise's position (on the back), not the one before it (kneeling)
    assert spoken(timeline) == rest_lines(prepared, position)
    assert spoken(timeline) == list(stop_path_at(prepared, event.start).said)
    section = prepared.timeline.sections[event.section].title
    assert rows(history) == [("stop", "voice", section)]
    assert history.sessions()[0].baseline is None and history.sessions()[0].final is None


@pytest.mark.parametrize("which", [Gate.BASELINE, Gate.BETWEEN, Gate.FINAL])
def test_an_unsure_stop_at_a_question_asks_did_you_say_stop(prepared, dialogue, history,
                                                            which):
    event = gate(prepared, which)
    (timeline, start), stage = answer_at(dialogue, event, say=[("stop", False)])
    assert timeline is dialogue.confirm_stop and start == 0
    assert dialogue.paused_at == (prepared.timeline, event.start)
    assert stage.ending == "completed" and stage.notes == []
    assert rows(history) == [("unsure stop", "voice", "confirm-stop")]   # not the answer


def test_an_answer_that_does_not_fit_the_question_is_not_taken(prepared, dialogue, history):
    result, stage = answer_at(dialogue, gate(prepared, Gate.BASELINE),
                              say=[("good", True), ("yes", True)])
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["none"]
    assert rows(history)[0][:2] == ("none", "timeout")


# --- between exercises -----------------------------------------------------------

@pytest.mark.parametrize("word", ["good", "same"])
def test_good_and_same_are_acknowledged_and_go_on(prepared, dialogue, history, word):
    event = gate(prepared, Gate.BETWEEN)
    result, stage = answer_at(dialogue, event, say=[(word, True)])
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge[word]
    assert dialogue.resume_at == event.end and stage.ending == "completed"
    assert rows(history) == [(word, "voice", prepared.timeline.sections[event.section].title)]


@pytest.mark.parametrize("key, word", [("g", "good"), ("\r", "good"), ("\n", "good"),
                                       ("a", "same"), ("w", "worse"), ("s", "stop")])
def test_the_keys_between_exercises(prepared, dialogue, history, key, word):
    answer_at(dialogue, gate(prepared, Gate.BETWEEN), keys=key)
    assert rows(history)[0][:2] == (word, "key")


@pytest.mark.parametrize("word", ["worse", "stop"])
def test_worse_and_stop_take_the_stop_path_for_where_the_body_is(prepared, dialogue,
                                                                 history, word):
    """The first check-in comes after resting on the back, before child's pose;
    the second after child's pose, before knee to chest (kneeling)."""
    for nth, position in ((0, "back"), (1, "kneeling")):
        dialogue.resume_at = None
        event = gate(prepared, Gate.BETWEEN, nth)
        (timeline, _), stage = answer_at(dialogue, event, say=[(word, True)])
        assert timeline.routine == "stop" and stage.ending == "stopped"
        assert spoken(timeline) == rest_lines(prepared, position)
        assert dialogue.resume_at is None          # nothing goes on after the stop path
    sections = [prepared.timeline.sections[gate(prepared, Gate.BETWEEN, n).section].title
                for n in (0, 1)]
    assert rows(history) == [(word, "voice", s) for s in sections]


def test_no_answer_is_recorded_and_goes_on(prepared, dialogue, history):
    event = gate(prepared, Gate.BETWEEN)
    result, stage = answer_at(dialogue, event)
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["none"]
    assert stage.notes == [f"{event.text} no answer (timeout)"]
    assert rows(history)[0][:2] == ("none", "timeout") and stage.ticks >= 1


def test_n_at_a_question_is_no_answer_and_on_to_the_next(prepared, dialogue, history):
    result, _ = answer_at(dialogue, gate(prepared, Gate.BETWEEN), keys="n")
    assert acknowledged(result, prepared) == prepared.library.phrases.acknowledge["none"]
    assert rows(history)[0][:2] == ("none", "key")


def test_q_at_a_question_quits_and_records_nothing(prepared, dialogue, history):
    result, stage = answer_at(dialogue, gate(prepared, Gate.BETWEEN), keys="q")
    assert result is None and stage.asked == ["finish quit"] and stage.ending == "quit"
    assert rows(history) == []


def test_the_question_shows_its_keys(prepared, dialogue):
    _, stage = answer_at(dialogue, gate(prepared, Gate.BETWEEN), keys="g")
    assert stage.help == "g good, a same, w worse, s stop"


# --- "Did you say stop?" ------------------------------------------------------------

def paused_by_an_unsure_stop(prepared, dialogue, sample):
    """The routine plays at ``sample`` when an unsure stop is heard: the stage now
    plays the question."""
    stage = FakeStage(prepared.timeline, sample, dialogue.inbox)
    dialogue.heard(stage, _answer("stop", sure=False))
    assert stage.timeline is dialogue.confirm_stop and stage.asked == ["seek confirm-stop 0"]
    question = next(e for e in dialogue.confirm_stop.events if e.gate == Gate.CONFIRM_STOP)
    return stage, question


def _answer(word, sure=True, source="voice"):
    return Answer(word, source, 0.0, sure)


def a_spoken_line(prepared):
    """A sample in the middle of a spoken line of the second exercise (kneeling)."""
    section = prepared.timeline.sections[2]
    line = [e for e in prepared.timeline.events
            if e.section == 2 and e.kind == EventKind.SPEECH][-1]
    assert section.start < line.start
    return line, line.start + line.length // 2


@pytest.mark.parametrize("say, keys", [([("no", True)], ""), ([("resume", True)], ""),
                                       ((), "n"), ((), "N")])
def test_no_goes_on_from_the_start_of_the_line_it_paused_in(prepared, dialogue, history,
                                                            say, keys):
    line, sample = a_spoken_line(prepared)
    stage, question = paused_by_an_unsure_stop(prepared, dialogue, sample)
    result, _ = answer_at(dialogue, question, keys=keys, say=say, stage=stage)
    assert result == (prepared.timeline, line.start) and stage.ending == "completed"
    word = say[0][0] if say else "no"
    assert rows(history) == [("unsure stop", "voice", "confirm-stop"),
                             (word, "voice" if say else "key", "confirm-stop")]


@pytest.mark.parametrize("say, keys, word, source", [
    ([("yes", True)], "", "yes", "voice"), ([("stop", True)], "", "stop", "voice"),
    ([("stop", False)], "", "stop", "voice"), ((), "y", "yes", "key"),
    ((), "s", "stop", "key"), ((), "", "none", "timeout")])
def test_yes_stop_or_no_answer_takes_the_stop_path_where_it_paused(prepared, dialogue,
                                                                   history, say, keys,
                                                                   word, source):
    """Silence is safe: no answer stops too. The stop path names the position of
    the routine where the question paused it (kneeling), not the question's."""
    _, sample = a_spoken_line(prepared)
    stage, question = paused_by_an_unsure_stop(prepared, dialogue, sample)
    (timeline, _), _ = answer_at(dialogue, question, keys=keys, say=say, stage=stage)
    assert timeline.routine == "stop" and stage.ending == "stopped"
    assert spoken(timeline) == rest_lines(prepared, "kneeling")
    assert rows(history) == [("unsure stop", "voice", "confirm-stop"),
                             (word, source, "confirm-stop")]


def test_a_yes_or_no_pressed_soon_after_the_question_timed_out_is_ignored(prepared,
                                                                          dialogue):
    _, sample = a_spoken_line(prepared)
    stage, question = paused_by_an_unsure_stop(prepared, dialogue, sample)
    answer_at(dialogue, question, stage=stage)                  # timed out: the stop path
    assert dialogue.key(stage, "n", None, "next") is None      # meant for the question
    assert dialogue.key(stage, "y", None, None) is None
    dialogue.key_rules.yes_no_closed_at -= 60                   # long ago
    assert dialogue.key(stage, "n", None, "next") == "next"


# --- between gates -----------------------------------------------------------------

def test_a_sure_stop_hushes_then_plays_the_stop_path_for_where_play_is(prepared, dialogue,
                                                                       history):
    _, sample = a_spoken_line(prepared)
    stage = FakeStage(prepared.timeline, sample, dialogue.inbox)
    stage.paused = True
    dialogue.inbox.put("stop", "voice")
    dialogue.listen(stage)
    assert stage.asked == ["hush", "seek stop 0", "resume"] and not stage.paused
    assert stage.ending == "stopped" and spoken(stage.timeline) == rest_lines(prepared,
                                                                             "kneeling")
    assert rows(history) == [("stop", "voice", "stop")]


def test_a_stop_during_a_move_says_stop_moving_and_rests_where_it_started(prepared,
                                                                        dialogue):
    """In the middle of a spoken move the body is still where it comes from."""
    moving = [e for e in prepared.timeline.events if e.move is not None]
    assert moving
    for event in (moving[0], moving[-1]):
        stage = FakeStage(prepared.timeline, event.start + event.length // 2,
                          dialogue.inbox)
        dialogue.key(stage, "s", None, None)
        assert spoken(stage.timeline) == rest_lines(prepared, event.move[0], moving=True)


def test_the_s_key_stops_at_any_moment(prepared, dialogue, history):
    stage = FakeStage(prepared.timeline, 0, dialogue.inbox)
    assert dialogue.key(stage, "s", None, None) is None
    assert stage.asked == ["hush", "seek stop 0", "resume"]
    assert rows(history) == [("stop", "key", "stop")]
    assert spoken(stage.timeline) == rest_lines(prepared, "standing")   # not yet down


def test_after_the_stop_path_no_word_counts(prepared, dialogue, history):
    stage = FakeStage(prepared.timeline, 0, dialogue.inbox)
    dialogue.key(stage, "s", None, None)
    stage.asked.clear()
    for word, sure in (("stop", True), ("stop", False), ("pause", True)):
        dialogue.inbox.put(word, "voice", sure)
    dialogue.listen(stage)
    assert stage.asked == [] and len(rows(history)) == 1


def test_an_unsure_stop_while_the_question_is_asked_asks_only_once(prepared, dialogue,
                                                                   history):
    stage, _ = paused_by_an_unsure_stop(prepared, dialogue, a_spoken_line(prepared)[1])
    dialogue.heard(stage, _answer("stop", sure=False))
    assert stage.asked == ["seek confirm-stop 0"]


@pytest.mark.parametrize("word", ["pause", "resume", "next", "repeat"])
def test_spoken_commands_steer_play(prepared, dialogue, history, word):
    stage = FakeStage(prepared.timeline, 0, dialogue.inbox)
    dialogue.inbox.put(word, "voice")
    dialogue.listen(stage)
    assert stage.asked == [f"control {word}"] and rows(history) == []


def test_answers_heard_between_gates_do_nothing(prepared, dialogue, history):
    stage = FakeStage(prepared.timeline, 0, dialogue.inbox)
    for word in ("good", "worse", "4", "yes", "no"):
        dialogue.inbox.put(word, "voice")
    dialogue.listen(stage)
    assert stage.asked == [] and rows(history) == []


def test_keys_around_a_question():
    """While a question is asked (before its gate opens) its answers are kept for
    it; n is no at a yes-or-no question and next at any other."""
    questions = Questions(Inbox(), TIMEOUT)
    stage = FakeStage(None)
    assert questions.key(stage, "w", Gate.BETWEEN, None) is None and stage.kept == ["w"]
    assert questions.key(stage, "n", Gate.BETWEEN, "next") == "next"
    assert questions.key(stage, "n", Gate.CONFIRM_STOP, "next") is None
    assert stage.kept == ["w", "n"]
    assert questions.key(stage, "w", None, None) is None and stage.kept == ["w", "n"]
    assert questions.key(stage, " ", Gate.BETWEEN, "toggle") == "toggle"


# --- the daily limit ---------------------------------------------------------------

@pytest.fixture
def daily_limit(prepared):
    phrases = prepared.library.phrases
    timeline = prepared.message("daily-limit", "Daily limit", phrases.daily_limit,
                                question=(phrases.daily_limit_question, Gate.DAILY_LIMIT))
    return timeline, next(e for e in timeline.events if e.gate == Gate.DAILY_LIMIT)


@pytest.mark.parametrize("say, keys, word, source", [
    ([("yes", True)], "", "yes", "voice"), ([("no", True)], "", "no", "voice"),
    ((), "y", "yes", "key"), ((), "\r", "yes", "key"), ((), "n", "no", "key"),
    ((), "s", "stop", "key"), ((), "", "none", "timeout")])
def test_the_daily_limit_question(daily_limit, say, keys, word, source):
    timeline, event = daily_limit
    questions = Questions(Inbox(), TIMEOUT)
    stage = FakeStage(timeline, event.start, questions.inbox, keys, say)
    assert questions.at_gate(stage, event) is None              # play goes on: it ends
    [(asked, answer)] = questions.answers
    assert (asked, answer.word, answer.source) == (Gate.DAILY_LIMIT, word, source)
    assert stage.help == "y yes, n no" and stage.asked == []


def test_the_daily_limit_question_quit(daily_limit):
    timeline, event = daily_limit
    questions = Questions(Inbox(), TIMEOUT)
    stage = FakeStage(timeline, event.start, questions.inbox, "q")
    assert questions.at_gate(stage, event) is None
    assert questions.answers == [] and stage.ending == "quit"


def test_s_while_the_daily_limit_is_asked_answers_it():
    """Around a question on its own, s is kept as its answer (nothing to stop yet)."""
    questions = Questions(Inbox(), TIMEOUT)
    stage = FakeStage(None)
    assert questions.key(stage, "s", Gate.DAILY_LIMIT, None) is None
    assert stage.kept == ["s"] and stage.asked == []


def test_silences_in_a_row_ask_are_you_all_right_then_pause_and_wait(prepared, dialogue):
    """No answer once goes on; twice in a row asks whether the person is all right; a
    third time says it will wait, and pauses at the end of those words."""
    words = prepared.library.phrases
    said, paused = [], []
    for event in (gate(prepared, Gate.BASELINE), gate(prepared, Gate.BETWEEN, 0),
                  gate(prepared, Gate.BETWEEN, 1)):
        result, stage = answer_at(dialogue, event)                 # nothing said
        said.append(acknowledged(result, prepared))
        [then] = [e for e in result[0].events if e.gate == Gate.CONTINUE]
        assert dialogue.at_gate(stage, then) == (prepared.timeline, event.end)
        paused.append("control pause" in stage.asked)
    assert said == [words.acknowledge["none"], words.are_you_ok, words.waiting]
    assert paused == [False, False, True]
    result, stage = answer_at(dialogue, gate(prepared, Gate.FINAL), say=[("4", True)])
    assert acknowledged(result, prepared) == words.acknowledge["pain"]
    assert dialogue.silences == 0                                  # an answer counts again


def test_an_answer_between_two_silences_starts_the_count_again(prepared, dialogue):
    words = prepared.library.phrases
    answer_at(dialogue, gate(prepared, Gate.BASELINE))
    answer_at(dialogue, gate(prepared, Gate.BETWEEN, 0), say=[("good", True)])
    result, _ = answer_at(dialogue, gate(prepared, Gate.BETWEEN, 1))
    assert acknowledged(result, prepared) == words.acknowledge["none"]
