"""Files written atomically: to a temporary file beside the target, renamed over it, so a
reader never sees half a workbook (the project's rule, ARCHITECTURE.md)."""

import os
import tempfile


def write_atomic(path, data):
    """Writes `data` (bytes) to `path` whole, or leaves `path` as it was. Returns the
    path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
