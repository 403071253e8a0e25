"""Atomic, private file writes: nothing the user made is ever left half-written.

Data goes to a temporary file beside the target (``.NAME.XXXX.part``), is flushed to
disk, and only then renamed over the target; on any failure (an error, Ctrl-C,
SIGTERM) the temporary file is removed and the target is untouched. A target that is
a symbolic link (a settings file kept in a dotfiles repository) is written through:
the file it names is replaced, beside itself, and the link stays.

What voiceguide creates is private whatever the umask (pain scores are health data):
new files are 0600 and new folders 0700; a file that is replaced keeps its mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Iterator

FILE_MODE = 0o600
DIR_MODE = 0o700
PART_SUFFIX = ".part"
#: A temporary file older than this belongs to a dead process.
STALE_PART_SECONDS = 3600.0


def private_dir(folder: Path) -> Path:
    """Create ``folder`` and its missing parents as 0700 folders (existing ones are
    left as they are); return it."""
    missing = []
    current = Path(folder)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
            os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
    return Path(folder)


def create_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file if it does not exist yet."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)


def _final_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return FILE_MODE


def real_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or, when it is a symbolic
    link, the file it names through every link (which need not exist yet).

    A loop of links raises ``OSError`` (ELOOP); a link naming a file in a folder that
    does not exist raises ``FileNotFoundError`` naming the link and saying so.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    real = Path(os.path.realpath(path))
    if real.is_symlink():
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    try:
        os.stat(real.parent)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"it links to {real}, in a folder that does "
                                "not exist", str(path)) from None
    return real


def temporary_path(target: Path) -> str:
    """A new, empty, private temporary file beside ``target``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PART_SUFFIX,
                               dir=target.parent)
    os.close(fd)
    return tmp


def sync(path: str) -> None:
    """Flush ``path``'s data to the disk."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def move_into_place(tmp: str, target: Path, replace: bool = True) -> None:
    """Rename ``tmp`` onto ``target``. With ``replace=False`` an existing target is
    never replaced (FileExistsError), even one made a moment ago by another process."""
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if target exists: an atomic no-replace rename
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(17, "File exists", str(target)) from None
        os.rename(tmp, target)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(target: Path, replace: bool = True) -> Iterator[str]:
    """A temporary path beside ``target``, renamed onto it only if the block succeeds.

    The result is 0600 if new, or keeps the mode of the file it replaces; with
    ``replace=False`` an existing target raises FileExistsError and is left alone. A
    ``target`` that is a symbolic link is written through (:func:`real_target`).
    """
    target = real_target(target)
    private_dir(target.parent)
    tmp = temporary_path(target)
    try:
        yield tmp
        sync(tmp)
        os.chmod(tmp, _final_mode(target))
        move_into_place(tmp, target, replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(data)


def remove_stale_parts(folder: Path, older_than: float = STALE_PART_SECONDS) -> list[Path]:
    """Remove ``.*.part`` temporary files in ``folder`` left by processes that died more
    than ``older_than`` seconds ago; return what was removed."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(PART_SUFFIX)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
