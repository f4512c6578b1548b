"""Numba cache stamps that cover every engine module, not only a kernel's own file.

Numba keys a cached function on its own source file. The engine's kernels call and inline functions of
other engine modules (the tiles of ``gemm.py`` in the inference kernel of ``inference.py``, the views, the
activations), and that code is part of the cached machine code: after an edit to ``gemm.py`` alone, the
inference kernel would be loaded from the cache as it was compiled before the edit, silently. (A mutation
test of ``gemm.py`` passed that way until the caches were deleted by hand.)

:func:`install` makes the stamp of every function defined in an engine module (or in a source checkout's
``tests/``, whose jitted wrappers link engine kernels) also carry a digest of all engine modules, so an
edit anywhere in the engine recompiles those functions on the next run. An installed
package's files do not change, so users see no difference; a development checkout recompiles after each
edit of the engine. If Numba's cache internals differ from what this expects, it does nothing.

Example:
    >>> from tmvacompat.engine import cachestamp
    >>> cachestamp.install()  # done when tmvacompat.engine is imported; repeated calls do nothing
    >>> len(cachestamp.engine_digest())
    64
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

_ENGINE = Path(__file__).resolve().parent
_ROOT = _ENGINE.parents[1]  # a source checkout (pyproject.toml there), or site-packages when installed
#: directories whose functions get the engine's digest in their stamps: the engine, and a source checkout's
#: tests (their jitted wrappers link engine kernels into their own cached code; not another package's
#: ``tests`` installed into site-packages)
_COVERED = (_ENGINE, _ROOT / "tests") if (_ROOT / "pyproject.toml").is_file() else (_ENGINE,)


def digest(directory: Path) -> str:
    """SHA-256 over the names and contents of the ``.py`` files directly in ``directory``, in name order."""
    h = hashlib.sha256()
    for f in sorted(directory.glob("*.py")):
        h.update(f.name.encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


@functools.cache
def engine_digest() -> str:
    """:func:`digest` of the engine's modules, computed once per process (~1 ms)."""
    return digest(_ENGINE)


@functools.cache
def _covered(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().parent in _COVERED
    except (OSError, TypeError, ValueError):
        return False


def install() -> None:
    """Extend Numba's source stamp of engine functions with :func:`engine_digest` (idempotent)."""
    try:
        from numba.core import caching

        mixin = caching._SourceFileBackedLocatorMixin
        original = mixin.get_source_stamp
    except (ImportError, AttributeError):
        return
    if getattr(original, "_tmvacompat", False):
        return

    def get_source_stamp(self: Any) -> Any:
        stamp = original(self)
        if _covered(str(getattr(self, "_py_file", ""))):
            return (stamp, engine_digest())
        return stamp

    get_source_stamp._tmvacompat = True  # type: ignore[attr-defined]
    mixin.get_source_stamp = get_source_stamp


__all__ = ["digest", "engine_digest", "install"]
