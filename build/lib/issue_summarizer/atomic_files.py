"""Write a file so that readers see the old version or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> Path:
    """Write a file by calling `write` on a temporary file beside it, then renaming it into place.

    A rename within one directory is atomic, so a concurrent reader sees the old file or the
    new one, never half of one, and two writers end with one complete file. `suffix` ends the
    temporary name, for writers that insist on one (Keras saves only to `.keras` names); the
    leading dot of that name keeps it out of globs such as `epoch-*.keras`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp creates the file readable by its owner only; like a model file, it should be
        # readable by the server's user too. (Reading the umask would briefly change it for
        # every thread of the process.)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
