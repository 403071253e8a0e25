"""Per-user folders (settings, own routines and techniques, cache, history).

Follows each platform's conventions through ``platformdirs``; on Linux that means
``XDG_CONFIG_HOME``, ``XDG_CACHE_HOME`` and ``XDG_DATA_HOME`` are honoured.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from voiceguide.errors import InputError

APP = "voiceguide"


def config_dir() -> Path:
    """Where the settings file and the user's own routines and techniques live."""
    return Path(platformdirs.user_config_dir(APP))


def routines_dir() -> Path:
    """The user's own routine files."""
    return config_dir() / "routines"


def techniques_dir() -> Path:
    """The user's own technique files."""
    return config_dir() / "techniques"


def cache_dir() -> Path:
    """Synthesized speech clips (safe to delete)."""
    return Path(platformdirs.user_cache_dir(APP))


def data_dir() -> Path:
    """The session history database."""
    return Path(platformdirs.user_data_dir(APP))


def expand_home(path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; an :class:`InputError` when
    that home folder cannot be found (no such user, or HOME unset with no user entry)."""
    try:
        return path.expanduser()
    except RuntimeError:
        raise InputError(f"{path}: cannot tell whose home folder {path.parts[0]!r} "
                         "is (no such user, or HOME not set)") from None
