"""Numba's extension packages (tmvacompat.engine.extensions): compiling or loading the engine's kernels does
not load them, and the first compile of any other function still does, so awkward arrays keep working in a
user's own ``@njit`` code in the same process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tmvacompat.engine import extensions

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys
import numpy as np
from numba.core import entrypoints
from tmvacompat.engine.activations import TANH, act_forward

z = np.linspace(-2, 2, 12).reshape(3, 4)
y = np.empty_like(z)
act_forward(TANH, z, y)  # compiles (or loads from the cache) one of the engine's kernels
after_ours = {"initialized": entrypoints._already_initialized, "awkward": "awkward" in sys.modules,
              "tanh_ok": bool(np.allclose(y, np.tanh(z)))}

import awkward as ak
import numba

@numba.njit
def total(a):
    s = 0.0
    for row in a:
        for x in row:
            s += x
    return s

value = total(ak.Array([[1.0, 2.5], [], [3.0]]))  # needs awkward's Numba extension
print(json.dumps({"after_ours": after_ours, "user_total": value,
                  "initialized_after_user": entrypoints._already_initialized}))
"""


def test_engine_compiles_defer_the_extensions_and_user_code_still_gets_them(tmp_path: Path) -> None:
    pytest.importorskip("awkward")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), TMVACOMPAT_BACKGROUND_COMPILE="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["after_ours"] == {"initialized": False, "awkward": False, "tanh_ok": True}
    assert res["user_total"] == 6.5
    assert res["initialized_after_user"] is True


def test_install_wraps_once() -> None:
    from numba.core import entrypoints

    wrapped = entrypoints.init_all
    assert getattr(wrapped, "_tmvacompat_deferred", False)  # installed on import of tmvacompat.engine
    extensions.install()
    assert entrypoints.init_all is wrapped


def test_compiling_ours_reads_the_dispatcher_on_the_stack() -> None:
    class _Fake:  # stands in for a Numba Dispatcher: only py_func is read
        def __init__(self, module: str) -> None:
            self.py_func = type("F", (), {"__module__": module})()

    def compile(self: _Fake) -> bool:  # noqa: A001 - the name Numba's frame has
        return extensions._compiling_ours(sys._getframe())

    compile.__code__ = compile.__code__.replace(co_filename="/site-packages/numba/core/dispatcher.py")
    assert compile(_Fake("tmvacompat.engine.fused")) is True
    assert compile(_Fake("mypackage.kernels")) is False
    assert extensions._compiling_ours(sys._getframe()) is False  # no compile on the stack
