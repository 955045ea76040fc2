"""Who may read what Cascade keeps on disk: its own user only. Every Cascade process creates
files 0600 and folders 0700 (umask 077), and tightens the data directory (unless another user
keeps something in it) and the SQLite database (whose WAL and shared-memory files SQLite
creates with the database's own mode) when an older installation left them open. Pictures are readable by the group as well (0640, folders
0750) when nginx sends them (CASCADE_MEDIA_ACCEL_REDIRECT): nginx's user joins Cascade's group."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
GROUP_FILE, GROUP_DIR = 0o640, 0o750


def keep_private(data_dir: Path, database: Path | None) -> None:
    os.umask(0o077)
    if not _shared(data_dir):
        _tighten(data_dir, PRIVATE_DIR)
    if database is not None:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _tighten(path, PRIVATE_FILE)


def _shared(folder: Path) -> bool:
    """Whether another user keeps something in `folder` (a development checkout's `var/`, where
    the test services' PostgreSQL lives): closing it would lock them out, so it is left as the
    operator made it."""
    try:
        return any(child.stat().st_uid != os.getuid() for child in folder.iterdir())
    except OSError:
        return True


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.exists() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(mode)
    except OSError:
        pass  # not ours to change (a read-only mount): the operator's choice


def close_media(media_root: Path, shared_with_proxy: bool) -> None:
    """Close the pictures' folder to other users at start: an older installation, or a copy
    made under a looser umask, may have left it and its pictures open, and nobody else can
    reach a picture through a closed folder whatever the picture's own mode (nginx's user, in
    Cascade's group, still can when it sends them)."""
    mode = GROUP_DIR if shared_with_proxy else PRIVATE_DIR
    try:
        if media_root.exists() and media_root.stat().st_uid == os.getuid():
            current = media_root.stat().st_mode & 0o777
            if current & ~mode:
                media_root.chmod(current & mode)
    except OSError:
        pass  # not ours to change (a read-only mount): the operator's choice


def media_modes(shared_with_proxy: bool) -> tuple[int, int]:
    """The modes of a picture file and of its folders."""
    return (GROUP_FILE, GROUP_DIR) if shared_with_proxy else (PRIVATE_FILE, PRIVATE_DIR)


def make_media_dirs(folder: Path, root: Path, mode: int) -> None:
    """Make `folder` (under `root`) and its missing parents with `mode`."""
    missing = []
    while not folder.exists() and (folder == root or root in folder.parents):
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        path.chmod(mode)
