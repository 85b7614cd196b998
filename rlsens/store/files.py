"""Writing store files: atomically, with the user's umask, and never losing a finished run;
reading them without hanging on what is not a file.

Every write goes to a temporary file in the same folder, is fsync'ed, renamed over the final
name and the folder fsync'ed, so killing the process at any instant leaves either the whole
file or none of it. ``mkstemp`` creates its file 0600; the final file gets ``0666 & ~umask``
like any file the user creates, so a results folder shared on a cluster (umask 002 or 022) can
be read by the group.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from rlsens.errors import StoreError

FALLBACK_ENV = "RLSENS_FALLBACK_DIR"


def read_store_text(path: Path) -> str:
    """The text of a store file, which must be a regular file (symlinks are followed).

    A FIFO or a device under a record's or the manifest's name (planted in a shared results
    folder, or a symlink to /dev/zero) would block the reader forever or fill its memory; it
    is refused with an ``OSError`` instead. Opened non-blocking so that even opening a FIFO
    returns at once.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with os.fdopen(fd, "r", encoding="utf-8", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``), because
    setting it to read it back races with threads that create files meanwhile."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def probe_writable(root: Path) -> None:
    """Fail before any training if ``root`` cannot take a record (read-only, full, a file)."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} is a file, not a results folder; pass --results with a "
                         "folder path (it is created if missing).")
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / ".write-probe", "rlsens write probe\n")
        (root / ".write-probe").unlink()
    except OSError as exc:
        raise StoreError(
            f"{root}: the results folder is not writable ({exc.strerror or exc}); nothing "
            "was trained. Make it writable (chmod u+w, free disk space) or pass --results "
            "with a writable folder."
        ) from exc


def fallback_root(store_root: Path) -> Path:
    """Where records go when the store refuses a write: ``$RLSENS_FALLBACK_DIR``, else
    ``~/.cache/rlsens/unsaved`` (or the temp folder when home is not writable), then the
    store's name, laid out like a store so its ``runs/`` can be copied back as they are."""
    name = store_root.resolve().name or "results"
    configured = os.environ.get(FALLBACK_ENV)
    if configured:
        return Path(configured) / name
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for base in (cache / "rlsens" / "unsaved",
                 Path(tempfile.gettempdir()) / f"rlsens-unsaved-{os.getuid()}"):
        with contextlib.suppress(OSError):
            base.mkdir(parents=True, exist_ok=True)
            if os.access(base, os.W_OK):
                return base / name
    return Path(tempfile.gettempdir()) / f"rlsens-unsaved-{os.getuid()}" / name
