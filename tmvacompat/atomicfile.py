"""Atomic replacement of output files, with the permissions and link behaviour of a plain ``open()``.

A file is written under a temporary name in the target's directory and renamed over the target only once
it is complete, so a crash or a kill never leaves a half-written weight file or ROOT file. The new file gets
the permissions ``open(path, "w")`` would give it: those of the file it replaces, else ``0o666`` less the
user's umask. Writing to a symbolic link writes the file it points to (the link stays a link).

Example:
    >>> import os, tempfile
    >>> from tmvacompat.atomicfile import atomic_path
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_path(target) as tmp:
    ...     with open(tmp, "w") as fh:
    ...         _ = fh.write("done")
    >>> open(target).read()
    'done'
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from tmvacompat.errors import TMVACompatError

__all__ = ["atomic_path", "resolve_target"]


def resolve_target(path: str | os.PathLike) -> str:
    """The file a write to ``path`` changes: the end of its symbolic-link chain, else ``path`` itself."""
    target = os.fspath(path)
    return os.path.realpath(target) if os.path.islink(target) else target


@contextmanager
def atomic_path(
    path: str | os.PathLike, *, error: type[TMVACompatError] = TMVACompatError, what: str = "file"
) -> Iterator[str]:
    """Yield a temporary path beside ``path``; when the block ends without an exception the temporary file
    (which the block writes, or rewrites in place) replaces the target atomically.

    Errors of the file system become ``error`` naming the file and ``what`` it is (e.g. "weight file").
    """
    target = resolve_target(path)
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise error(
            f"cannot write the {what}: directory {directory!r} does not exist",
            where=os.fspath(path),
            token=directory,
        )
    base = os.path.basename(target)
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    except OSError as err:
        raise error(
            f"cannot write the {what}: {err.strerror or err}", where=os.fspath(path), token=target
        ) from err
    tmp = ""
    for _ in range(100):
        candidate = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 here lets the kernel apply the user's umask, as open() does
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise error(
                f"cannot write the {what} in {directory!r}: {err.strerror or err}",
                where=os.fspath(path),
                token=directory,
            ) from err
        os.close(fd)
        tmp = candidate
        break
    else:  # pragma: no cover - 100 random names all taken
        raise error(
            f"cannot create a temporary file in {directory!r}", where=os.fspath(path), token=directory
        )
    mode = old_mode if old_mode is not None else stat.S_IMODE(os.stat(tmp).st_mode)
    try:
        yield tmp
        os.chmod(tmp, mode)  # the writer may have recreated the file with its own mode
        os.replace(tmp, target)
    except OSError as err:
        raise error(
            f"cannot write the {what}: {err.strerror or err}", where=os.fspath(path), token=target
        ) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
