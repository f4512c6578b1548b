"""Cold start: compile the inference kernel in a helper process while this process compiles the training
kernel.

The first training after installing (an empty Numba cache) compiles two large kernels: the fused training
kernel (:func:`tmvacompat.engine.fused.fused_batches`, about 6 s here) and the inference kernel
(:func:`tmvacompat.engine.inference.dense_infer`, about 4.5 s) that validation and every prediction use.
Numba compiles under one process-wide lock, so threads cannot overlap the two; another process can. The
trainer calls :func:`start_inference_compile` before it compiles the training kernel: when neither kernel is
cached (in this process or on disk), a helper process compiles ``dense_infer`` into the shared on-disk
cache. :func:`wait_inference_compile`, called before the first inference, waits for that helper; Numba then
loads the kernel from the cache (or, if the helper failed, compiles it here as it would have anyway). The
cached code is what this process would have compiled itself (same Numba, same CPU), so results do not
change.

Set ``TMVACOMPAT_BACKGROUND_COMPILE=0`` to switch this off.

Example:
    >>> import numpy as np
    >>> start_inference_compile(np.float64, lean=True, enabled=False)  # switched off: nothing started
    False
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

#: environment variable that switches the helper process off when set to 0
ENV_SWITCH = "TMVACOMPAT_BACKGROUND_COMPILE"
#: seconds to wait for a helper before compiling here instead
HELPER_TIMEOUT = 120.0

_lock = threading.Lock()
_helpers: dict[tuple[str, bool], subprocess.Popen] = {}


def _enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _plain_python() -> bool:
    """A Python interpreter we can start again (not a frozen app, not Python embedded in another program
    such as ROOT's interpreter, whose executable would not take ``-c``)."""
    if getattr(sys, "frozen", False) or not sys.executable:
        return False
    return Path(sys.executable).name.lower().startswith(("python", "pypy"))


def is_cached(dispatcher: Any, args: tuple) -> bool:
    """Whether ``dispatcher`` has code for the types of ``args`` in this process or in its on-disk cache.

    Uses Numba's cache index (not a public API): when that cannot be read, answers True, so no helper is
    started for nothing.
    """
    try:
        sig = tuple(dispatcher.typeof_pyval(a) for a in args)
        if sig in dispatcher.overloads:
            return True
        cache = getattr(dispatcher, "_cache", None)
        cache_file = getattr(cache, "_cache_file", None)
        if cache_file is None:  # caching off: a helper could not hand anything over
            return True
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache_file._load_index()
    except Exception:  # noqa: BLE001 - Numba internals changed: behave as if cached (no helper)
        return True


def _probe_args(dtype: np.dtype, lean: bool) -> tuple:
    """Arguments of :func:`dense_infer` with the types every caller passes (values do not matter)."""
    from tmvacompat.engine.activations import SIGMOID, TANH
    from tmvacompat.engine.inference import pack_dense, scratch_size

    code = TANH if lean else SIGMOID
    P, lay = pack_dense([(np.zeros((2, 2)), np.zeros(2), code)], dtype)
    return (np.zeros((1, 2), dtype), P, lay, np.empty((1, 2), dtype), np.empty(scratch_size(lay), dtype),
            None if lean else np.zeros(1, np.int64))  # fmt: skip


def start_inference_compile(dtype: Any, lean: bool, *, training_args: tuple | None = None,
                            training_kernel: Any = None, enabled: bool | None = None,
                            with_gemm: bool = False) -> bool:  # fmt: skip
    """Start a helper process compiling the inference kernel for ``dtype`` (lean or full variant) when
    that kernel is not cached and this process is about to compile the training kernel (its arguments
    ``training_args`` for ``training_kernel`` not cached either). ``with_gemm``: the training kernel is
    the small-batch variant, so the helper compiles :mod:`tmvacompat.engine.gemm`'s products first. Returns
    whether a helper was started.
    """
    if not (_enabled() if enabled is None else enabled):
        return False
    from tmvacompat.engine.inference import dense_infer

    dt = np.dtype(dtype)
    key = (dt.name, bool(lean))
    with _lock:
        if key in _helpers:
            return False
        if is_cached(dense_infer, _probe_args(dt, lean)):
            return False
        if training_kernel is not None and training_args is not None and is_cached(training_kernel,
                                                                                   training_args):
            return False  # nothing to overlap with: this process would only wait for the helper
        if not _plain_python():
            return False
        code = f"from tmvacompat.engine.warmup import _main; _main({dt.name!r}, {lean!r}, {with_gemm!r})"
        cmd = [sys.executable, "-c", code]
        # the helper imports this very package, wherever it came from
        pkg_parent = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True, env=env)  # fmt: skip
        except OSError:  # no processes allowed here: compile in this process as usual
            return False
        _helpers[key] = proc
        return True


def wait_inference_compile(dtype: Any, lean: bool) -> None:
    """Wait for a helper started by :func:`start_inference_compile` (no-op when there is none)."""
    key = (np.dtype(dtype).name, bool(lean))
    with _lock:
        proc = _helpers.get(key)
    if proc is None or proc.returncode is not None:
        return
    try:
        proc.wait(timeout=HELPER_TIMEOUT)
    except subprocess.TimeoutExpired:  # compile here; the helper may still fill the cache for later runs
        pass


def _main(dtype_name: str, lean: bool, with_gemm: bool = False) -> None:
    """Helper-process entry: compile (and so cache) the inference kernel, and first the matrix-product
    kernel the training kernel calls: when that is cached before the training kernel's compilation reaches
    it, the other process loads it instead of compiling it (if not, nothing is lost)."""
    from tmvacompat.engine.gemm import gemm_nn, gemm_tn
    from tmvacompat.engine.inference import dense_infer

    dt = np.dtype(dtype_name)
    a = np.ones(64, dt)
    n = np.int64(4)  # int64 like the training kernel's sizes and offsets (not literals)
    if with_gemm:
        gemm_tn(n, n, n, a, n - n, n, a, n - n, n, a, n, n)
        gemm_nn(n, n, n, a, n - n, n, a, n - n, n, a, n, n)
    dense_infer(*_probe_args(dt, lean))


__all__ = ["ENV_SWITCH", "is_cached", "start_inference_compile", "wait_inference_compile"]
