"""Hardening II: the settings file kept as a link, on a failing disk, with hostile or
huge values; an unreadable routines folder. Every case through the installed command."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_voiceguide


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def one_line(result) -> str:
    """The one line a failing command printed, checked to be one line."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def settings_link(user_dirs, target: Path) -> Path:
    """The settings file made a symbolic link to ``target``, relative as dotfile
    managers (stow) make them."""
    link = user_dirs["config"] / "settings.toml"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))
    return link


def skip_unless_permissions_bind(tmp_path: Path) -> None:
    """Skip the test when folder permissions do not stop this process (root, or a
    process with CAP_DAC_OVERRIDE, writes into a 0500 folder all the same)."""
    probe = tmp_path / "permissions-probe"
    probe.mkdir(mode=0o500)
    try:
        (probe / "file").touch()
    except PermissionError:
        return
    finally:
        probe.chmod(0o700)
    pytest.skip("folder permissions do not bind this process (running as root): "
                "chmod cannot make a folder unreadable or read-only to it")


# ------------------------------------------------ 1. a settings file that is a link

def test_config_set_and_unset_write_through_a_linked_settings_file(tmp_path, user_dirs):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "voiceguide.toml"
    real.write_text('# mine\npace = "slow"\n')
    real.chmod(0o640)
    link = settings_link(user_dirs, real)
    assert run_voiceguide("config", "set", "rate", "150").returncode == 0
    assert run_voiceguide("config", "unset", "pace").returncode == 0
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == "# mine\nrate = 150\n" and mode(real) == 0o640
    assert sorted(p.name for p in dotfiles.iterdir()) == ["voiceguide.toml"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["settings.toml"]
    shown = json.loads(run_voiceguide("config", "show", "--json").stdout)
    assert shown["rate"] == {"value": "150", "source": "settings file"}


def test_a_dangling_settings_link_is_written_when_its_folder_exists(tmp_path, user_dirs):
    (tmp_path / "dotfiles").mkdir()
    real = tmp_path / "dotfiles" / "voiceguide.toml"
    link = settings_link(user_dirs, real)
    assert run_voiceguide("config", "set", "pace", "slow").returncode == 0
    assert link.is_symlink() and 'pace = "slow"' in real.read_text()


def test_a_dangling_settings_link_into_a_missing_folder_is_one_line(tmp_path, user_dirs):
    real = tmp_path / "gone" / "voiceguide.toml"
    link = settings_link(user_dirs, real)
    result = run_voiceguide("config", "set", "pace", "slow")
    assert result.returncode == 1
    line = one_line(result)
    assert str(link) in line
    assert line.endswith(f"it links to {real}, in a folder that does not exist")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_a_loop_of_settings_links_is_one_line_and_left_alone(tmp_path, user_dirs):
    link = settings_link(user_dirs, tmp_path / "other.toml")
    (tmp_path / "other.toml").symlink_to(link)
    result = run_voiceguide("config", "set", "pace", "slow")
    assert result.returncode == 1
    line = one_line(result)
    assert str(link) in line and "Too many levels of symbolic links" in line
    assert link.is_symlink() and (tmp_path / "other.toml").is_symlink()


# --------------------------------------------- 2. a settings file that cannot be written

def settings_file(user_dirs, text: str = 'pace = "slow"\n') -> Path:
    path = user_dirs["config"] / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def refused_write(path: Path, result, cause: str) -> None:
    """``result`` is one line naming the settings file and ``cause``, exit 1, and left
    nothing beside the file."""
    assert result.returncode == 1, result.stderr
    assert one_line(result) == f"voiceguide: cannot write the settings file {path}: {cause}"
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_folder_in_the_settings_files_place_is_one_line(user_dirs):
    path = user_dirs["config"] / "settings.toml"
    path.mkdir(parents=True)
    for words in (["set", "pace", "slow"], ["unset", "pace"]):
        refused_write(path, run_voiceguide("config", *words), "Is a directory")
    assert path.is_dir() and list(path.iterdir()) == []


def test_a_read_only_settings_folder_is_one_line(tmp_path, user_dirs):
    skip_unless_permissions_bind(tmp_path)
    path = settings_file(user_dirs)
    path.parent.chmod(0o500)
    try:
        for words in (["set", "pace", "fast"], ["unset", "pace"]):
            refused_write(path, run_voiceguide("config", *words), "Permission denied")
    finally:
        path.parent.chmod(0o700)
    assert path.read_text() == 'pace = "slow"\n'


def test_a_read_only_file_system_is_one_line(user_dirs):
    folder = user_dirs["config"]
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to make read-only (needs root): "
                    f"{mounted.stderr.strip()}")
    try:
        path = settings_file(user_dirs)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        refused_write(path, run_voiceguide("config", "set", "pace", "fast"),
                      "Read-only file system")
        assert path.read_text() == 'pace = "slow"\n'
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _file_size_limit(size: int):
    """A preexec_fn: files of the command stop at ``size`` bytes, and writing past
    that fails with the kernel's EFBIG (File too large) instead of a SIGXFSZ kill."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_full_disk_is_one_line_and_keeps_the_settings_file(user_dirs):
    path = settings_file(user_dirs)
    result = run_voiceguide("config", "set", "voice", "en-gb", preexec_fn=_file_size_limit(16))
    refused_write(path, result, "File too large")
    assert path.read_text() == 'pace = "slow"\n'
    assert run_voiceguide("config", "set", "voice", "en-gb").returncode == 0


# ---------------------------------------------------- 3. control characters in values

CONTROLS = ["\x1b", "\x07", "\t", "\u202e", "\u2066", "\u200f", "\u061c"]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_in_a_settings_file_value_is_refused_with_file_line_and_key(user_dirs,
                                                                             control):
    path = settings_file(user_dirs, f'pace = "slow"\nvoice = "en\\u{ord(control):04x}gb"\n')
    for words in (["show", "quick"], ["config", "show"]):
        result = run_voiceguide(*words)
        assert result.returncode == 2, words
        assert one_line(result) == (f"voiceguide: {path}:2: voice: control character "
                                    f"U+{ord(control):04X} at character 3; remove it")
        assert control not in result.stdout + result.stderr


@pytest.mark.parametrize("control", CONTROLS)
def test_config_set_refuses_a_control_naming_the_key(user_dirs, control):
    path = settings_file(user_dirs)
    for key in ("voice", "pace"):
        result = run_voiceguide("config", "set", key, f"en{control}gb")
        assert result.returncode == 2
        assert one_line(result) == (f"voiceguide: {key}: control character "
                                    f"U+{ord(control):04X} at character 3; remove it")
        assert control not in result.stdout + result.stderr
    assert path.read_text() == 'pace = "slow"\n'


def test_a_control_in_a_command_line_setting_is_refused_naming_the_option():
    result = run_voiceguide("show", "quick", "--voice", "en\x1b]0;owned\x07")
    assert result.returncode == 2
    assert one_line(result) == ("voiceguide: --voice: control character U+001B at "
                                "character 3; remove it")


# ---------------------------------------------------- 4. huge values, echoed shortened

HUGE_NUMBER, HUGE_WORD = "9" * 20_000, "x" * 20_000


@pytest.mark.parametrize("words", [
    ["show", "quick", "--voice", HUGE_WORD],
    ["show", "quick", "--rate", HUGE_NUMBER],
    ["show", "quick", "--hold", HUGE_NUMBER],
    ["show", "quick", "--reps", HUGE_WORD],
    ["show", "quick", "--pace", HUGE_NUMBER],
    ["show", "quick", "--breath", HUGE_NUMBER],
    ["play", "quick", "--checkin-timeout", HUGE_WORD],
    ["voices", "--say", "Hello", "--rate", HUGE_NUMBER],
    ["history", "--limit", HUGE_NUMBER],
    ["config", "set", "voice", HUGE_WORD],
    ["config", "set", "rate", HUGE_NUMBER],
    ["config", "set", HUGE_WORD, "1"],
    ["show", HUGE_WORD],
    ["new", HUGE_WORD],
], ids=lambda words: " ".join(w if len(w) < 50 else "HUGE" for w in words))
def test_a_huge_value_is_echoed_shortened_on_one_line(user_dirs, words):
    result = run_voiceguide(*words)
    assert result.returncode == 2
    line = one_line(result)
    huge = next(w for w in words if len(w) == 20_000)
    assert f"'{huge[:60]}…' (20,000 characters)" in line and len(line) < 400, line


def test_a_huge_value_in_the_settings_file_is_echoed_shortened(user_dirs):
    path = settings_file(user_dirs, f'voice = "{HUGE_WORD}"\nrate = "{HUGE_NUMBER}"\n')
    line = one_line(run_voiceguide("show", "quick"))
    assert line.startswith(f"voiceguide: {path}:1: voice: expected a voice id, name or "
                           f"file of at most 4096 characters, not '{HUGE_WORD[:60]}…' "
                           "(20,000 characters)")
    assert line.endswith("(and 1 more problem(s))") and len(line) < 400


# ------------------------------------------------------ 5. an unreadable routines folder

def unreadable_folder(user_dirs, tmp_path, name: str, files: dict[str, str]) -> Path:
    """``name`` in the user's config folder, holding ``files``, made unreadable (0000)."""
    skip_unless_permissions_bind(tmp_path)
    folder = user_dirs["config"] / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    folder.chmod(0)
    return folder


def test_an_unreadable_routines_folder_is_said_by_list_show_and_play(user_dirs, tmp_path,
                                                                     two):
    folder = unreadable_folder(user_dirs, tmp_path, "routines", {"mine.toml": two.read_text()})
    try:
        listed = run_voiceguide("list")
        assert listed.returncode == 0
        assert one_line(listed) == (f"voiceguide: your routines folder {folder} cannot be "
                                    "read: Permission denied; only the built-in routines "
                                    "are used")
        assert "morning" in listed.stdout and "quick" in listed.stdout
        for command in ("show", "play"):
            result = run_voiceguide(command, "mine")
            assert result.returncode == 1, command
            assert one_line(result) == (f"voiceguide: no built-in routine 'mine', and your "
                                        f"routines folder {folder} cannot be read: "
                                        "Permission denied")
        assert run_voiceguide("show", "quick").returncode == 0
    finally:
        folder.chmod(0o700)
    assert "mine" in run_voiceguide("list").stdout


def test_an_unreadable_techniques_folder_is_a_warning_of_list(user_dirs, tmp_path):
    folder = unreadable_folder(user_dirs, tmp_path, "techniques", {})
    try:
        listed = run_voiceguide("list")
    finally:
        folder.chmod(0o700)
    assert listed.returncode == 0 and "knee-to-chest" in listed.stdout
    assert one_line(listed) == (f"voiceguide: your techniques folder {folder} cannot be "
                                "read: Permission denied; only the built-in techniques "
                                "are used")
