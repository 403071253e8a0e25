"""Settings: precedence across the four layers, editing that keeps comments, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.support.cli import run_voiceguide
from voiceguide import settings
from voiceguide.cli.app import cli
from voiceguide.errors import FileError, InputError
from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import BreathPattern

# key → (settings file value, routine value or None, command-line value, expected x3)
LAYERS = {
    "pace": ("slow", 0.8, "1.5", 1.3, 0.8, 1.5),
    "hold": (40, 25.0, "12", 40.0, 25.0, 12.0),
    "reps": (8, 6, "3", 8, 6, 3),
    "breath": ("4-7", "5-5", "4-2-6-0", BreathPattern(4, 0, 7, 0), BreathPattern(5, 0, 5, 0),
               BreathPattern(4, 2, 6, 0)),
    "rate": (140, 180, "200", 140, 180, 200),
    "rest": (10, 3.0, "0", 10.0, 3.0, 0.0),
    "voice": ("en-gb", None, "en-us", "en-gb", None, "en-us"),
    "volume": (0.5, None, None, 0.5, None, None),
    "cue_volume": (0.3, None, None, 0.3, None, None),
    "checkin_timeout": (12, None, "20", 12.0, None, 20.0),
    "listen": ("off", None, "on", "off", None, "on"),
    "barge_in": (True, None, None, True, None, None),
    "countdown": (False, None, None, False, None, None),
    "voice_guidance": ("cues-only", None, None, "cues-only", None, None),
    "intro": ("never", None, None, "never", None, None),
}


def test_every_settings_key_is_covered():
    assert set(LAYERS) == set(settings.KEYS)


@pytest.mark.parametrize("key", list(LAYERS))
def test_precedence_for_each_key(tmp_path, key):
    in_file, in_routine, on_line, want_file, want_routine, want_line = LAYERS[key]
    path = tmp_path / "settings.toml"
    settings.set_value(key, str(in_file).lower() if isinstance(in_file, bool) else str(in_file),
                       path)
    file_values = settings.read_file(path)
    default = settings.resolve({}, None, {})
    assert default.sources[key] == "default"
    from_file = settings.resolve({}, None, file_values)
    assert from_file.value(key) == want_file and from_file.sources[key] == "settings file"
    if in_routine is not None:
        routine = Routine("r", "R", (), pacing={key: settings.parse(key, in_routine)})
        layered = settings.resolve({}, routine, file_values)
        assert layered.value(key) == want_routine
        assert layered.sources[key] == "routine file"
    else:
        routine = None
    if on_line is not None:
        top = settings.resolve({key: on_line}, routine, file_values)
        assert top.value(key) == want_line and top.sources[key] == "command line"


def test_precedence_reaches_show_play_and_export_alike(tmp_path, user_dirs):
    routine = tmp_path / "r.toml"
    routine.write_text('title = "R"\n[pacing]\nbreath = "5-5"\n'
                       '[[exercise]]\ntechnique = "cat-cow"\n')
    assert run_voiceguide("config", "set", "breath", "4-7").returncode == 0
    assert run_voiceguide("config", "set", "reps", "10").returncode == 0

    def show(*args):
        return json.loads(run_voiceguide("show", routine, "--json", *args).stdout)["pacing"]

    assert show()["breath"] == "5-5" and show()["reps"] == 10    # routine > settings file
    assert show("--breath", "3-3")["breath"] == "3-3"           # command line > routine
    out = tmp_path / "r.wav"
    exported = run_voiceguide("export", routine, "-o", out, "--breath", "3-3")
    assert exported.returncode == 0
    import soundfile
    total = json.loads(run_voiceguide("show", routine, "--for", "export", "--json", "--breath",
                                      "3-3").stdout)
    assert soundfile.info(str(out)).frames == total["total_samples"]


def test_config_set_keeps_comments_and_layout(user_dirs):
    path = settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("# my settings\npace = \"slow\"   # slower mornings\n\n# voice\nrate = 140\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "set", "rate", "150"]).exit_code == 0
    assert runner.invoke(cli, ["config", "set", "breath", "4-6"]).exit_code == 0
    assert runner.invoke(cli, ["config", "unset", "pace"]).exit_code == 0
    assert path.read_text() == "# my settings\n\n# voice\nrate = 150\nbreath = \"4-6\"\n"
    shown = runner.invoke(cli, ["config", "show"]).output
    assert "rate             150          (settings file)" in shown
    assert "pace             normal       (default)" in shown


def test_config_path_and_fresh_set(user_dirs):
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "path"]).output.strip() == str(settings.settings_path())
    assert runner.invoke(cli, ["config", "set", "pace", "slow"]).exit_code == 0
    assert 'pace = "slow"' in settings.settings_path().read_text()
    assert runner.invoke(cli, ["config", "set", "countdown", "off"]).exit_code == 0
    assert settings.read_file()["countdown"] is False


@pytest.mark.parametrize("key, value, words", [
    ("pace", "sluggish", "allowed: slow, normal, fast"),
    ("volume", "2", "allowed: 0-1"),
    ("colour", "blue", "unknown setting"),
    ("voice_guidance", "some", "allowed: full, cues-only"),
])
def test_config_set_refuses_bad_values(user_dirs, key, value, words):
    result = CliRunner().invoke(cli, ["config", "set", key, value])
    assert result.exit_code == 2 and words in result.output
    assert not settings.settings_path().exists()


def test_invalid_settings_file_names_file_line_key_and_allowed(user_dirs):
    path = settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('# mine\npace = "slow"\nrate = 500\n')
    result = run_voiceguide("show", "quick")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"voiceguide: {path}:3: rate: speech rate (words per "
                                     "minute) must be between 80 and 300, not 500 "
                                     "(allowed: 80-300 (words per minute))")
    # the broken value can be fixed with config set
    assert run_voiceguide("config", "set", "rate", "150").returncode == 0
    assert run_voiceguide("show", "quick").returncode == 0
    path.write_text('pace = "slow\n')
    with pytest.raises(FileError, match=r"settings.toml:1: TOML syntax error"):
        settings.read_file()


def test_bad_command_line_value_names_the_option():
    with pytest.raises(InputError, match="--checkin-timeout: must be between 1 and 120"):
        settings.resolve({"checkin_timeout": "500"}, None, {})
