"""Hardening II: the settings file kept as a link, on a failing disk, with hostile or
huge values; an unreadable routines folder. Every case through the installed command."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

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
