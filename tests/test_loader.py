"""Loader: each kind of bad input names the file, the line and the key."""

from __future__ import annotations

import textwrap

import pytest

from voiceguide import catalog
from voiceguide.routine import loader
from voiceguide.errors import FileError, InputError

LIBRARY = catalog.load_library()

GOOD_ROUTINE = """\
title = "Mine"

[[exercise]]
technique = "knee-to-chest"
hold = 25

[[exercise]]
technique = "childs-pose"
"""


def write(tmp_path, text, name="mine.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_error(path) -> str:
    with pytest.raises(FileError) as info:
        LIBRARY.routine(str(path))
    return str(info.value)


def test_good_routine_loads(tmp_path):
    routine = LIBRARY.routine(str(write(tmp_path, GOOD_ROUTINE)))
    assert [e.technique.id for e in routine.exercises] == ["knee-to-chest", "childs-pose"]
    assert routine.exercises[0].hold == 25


@pytest.mark.parametrize("text, line, key, words", [
    (GOOD_ROUTINE.replace('title = "Mine"', 'title = "Mine'), 1, None, "TOML syntax error"),
    (GOOD_ROUTINE.replace('"childs-pose"', '"childs-pos"'), 8, "exercise[2].technique",
     "did you mean 'childs-pose'"),
    (GOOD_ROUTINE.replace("hold = 25", "hold = 0"), 5, "exercise[1].hold", "greater than 0"),
    (GOOD_ROUTINE.replace("hold = 25", "hold = -3"), 5, "exercise[1].hold", "greater than 0"),
    (GOOD_ROUTINE.replace("hold = 25", 'hold = "long"'), 5, "exercise[1].hold", "expected a number"),
    (GOOD_ROUTINE.replace("hold = 25", "hold = 45"), 5, "exercise[1].hold", "safe range [20, 30]"),
    (GOOD_ROUTINE.replace("hold = 25", "holds = 25"), 5, "exercise[1].holds",
     "did you mean 'hold'"),
    (GOOD_ROUTINE.replace('title = "Mine"', 'titel = "Mine"'), 1, "titel", "unknown key"),
    (GOOD_ROUTINE + '\n[pacing]\npace = "sluggish"\n', 11, "pacing.pace", "pace"),
    (GOOD_ROUTINE + '\n[pacing]\nbreath = "4-x"\n', 11, "pacing.breath", "4-6"),
    ('title = "Mine"\n', None, "exercise", "at least one [[exercise]]"),  # absent: no line
])
def test_bad_routine_names_file_line_and_key(tmp_path, text, line, key, words):
    path = write(tmp_path, text)
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: ")
    if key:
        assert f" {key}: " in message
    assert words in message
    assert "\n" not in message


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, GOOD_ROUTINE.replace("hold = 25", "hold = 0\ncolour = 1")
                 .replace('"childs-pose"', '"nope"'))
    problems = catalog.check_file(path, LIBRARY)
    assert [p.key for p in problems] == ["exercise[1].colour", "exercise[1].hold",
                                         "exercise[2].technique"]
    assert [p.line for p in problems] == [6, 5, 9]


def test_bad_technique_file(tmp_path):
    path = write(tmp_path, """\
        title = "Knee hug"
        setup = ["Lie down."]

        [movement]
        kind = "hold"
        seconds = "a while"
        range = [30, 20]
        """, name="knee-hug.toml")
    problems = catalog.check_file(path, LIBRARY)
    assert [(p.line, p.key) for p in problems] == [(6, "movement.seconds"), (7, "movement.range")]
    with pytest.raises(FileError):
        loader.load_technique_file(path)


def test_user_technique_can_be_used_by_a_user_routine(tmp_path):
    (tmp_path / "techniques").mkdir()
    (tmp_path / "routines").mkdir()
    write(tmp_path / "techniques", """\
        title = "Knee hug"
        setup = ["Lie on your back."]
        [movement]
        kind = "hold"
        seconds = 25
        range = [20, 30]
        """, name="knee-hug.toml")
    write(tmp_path / "routines", 'title = "Hug"\n[[exercise]]\ntechnique = "knee-hug"\n',
          name="hug.toml")
    write(tmp_path / "routines", 'title = "Not the built-in"\n[[exercise]]\n'
          'technique = "knee-hug"\n', name="morning.toml")
    library = catalog.load_library(tmp_path)
    assert library.routine("hug").exercises[0].technique.title == "Knee hug"
    assert library.routine("morning").title != "Not the built-in"
    assert any("built-in routine is already named 'morning'" in w for w in library.warnings)


def test_unknown_routine_suggests_the_closest():
    with pytest.raises(InputError, match="did you mean 'morning'"):
        LIBRARY.routine("mornin")


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        LIBRARY.routine("/nonexistent/mine.toml")
