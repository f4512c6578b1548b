"""Numba cache stamps of engine functions cover every engine module (tmvacompat.engine.cachestamp)."""

from __future__ import annotations

from pathlib import Path

from numba import njit

import tmvacompat.engine  # noqa: F401  (installs the stamps)
from tmvacompat.engine.cachestamp import digest, engine_digest
from tmvacompat.engine.gemm import gemm_nn
from tmvacompat.engine.inference import dense_infer
from tmvacompat.errors import closest


@njit(cache=True)
def _test_wrapper(x):
    return x + 1


def test_digest_changes_with_any_module_of_the_directory(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not a module")
    before = digest(tmp_path)
    (tmp_path / "notes.txt").write_text("changed")
    assert digest(tmp_path) == before
    (tmp_path / "b.py").write_text("y = 3\n")
    assert digest(tmp_path) != before
    (tmp_path / "b.py").write_text("y = 2\n")
    assert digest(tmp_path) == before
    (tmp_path / "c.py").write_text("")
    assert digest(tmp_path) != before


def test_engine_kernels_are_stamped_with_the_whole_engine():
    # the stamp Numba stores in (and checks against) a kernel's cache index: its own file's, plus the
    # digest of all engine modules, for kernels in any engine module and jitted test wrappers (which link
    # engine kernels into their cached code); other functions keep Numba's stamp
    for fn in (gemm_nn, dense_infer, _test_wrapper):
        stamp = fn._cache._impl.locator.get_source_stamp()
        assert isinstance(stamp, tuple) and stamp[1] == engine_digest()
    engine_dir = Path(gemm_nn.py_func.__code__.co_filename).parent
    assert engine_digest() == digest(engine_dir)
    outside = njit(cache=True)(closest)  # a function of another directory (never compiled here)
    assert engine_digest() not in repr(outside._cache._impl.locator.get_source_stamp())
