"""Cold start: compile the kernels of a first training in two processes at once.

The first training after installing (an empty Numba cache) compiles the fused training kernel, the step and
the activation, loss, matrix-product and optimizer kernels it calls through function pointers
(:mod:`tmvacompat.engine.fnptr`), and the inference kernel
(:func:`tmvacompat.engine.inference.dense_infer`) that validation and every prediction use. Numba compiles
under one process-wide lock, so threads cannot share that work; another process can, through Numba's
on-disk cache. :func:`compile_together` starts a helper process with the list of uncached functions (the
training's, and the inference kernel second): both processes go down the list and each compiles the
functions it claims first (a claim is a file created exclusively). This process waits for the helper's
training functions and loads them from the cache; :func:`wait_inference_compile`, called before the first
inference, waits for the inference kernel if the helper has it. Where the helper fails or is slow, this
process compiles what it needs itself, as it would have anyway. The cached code is what this process would
have compiled (same Numba, same CPU), so results do not change.

Set ``TMVACOMPAT_BACKGROUND_COMPILE=0`` to switch this off.

Example:
    >>> import numpy as np
    >>> compile_together([], np.float64, lean=True, enabled=False)  # switched off: no helper
    False
"""

from __future__ import annotations

import importlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

#: environment variable that switches the helper process off when set to 0
ENV_SWITCH = "TMVACOMPAT_BACKGROUND_COMPILE"
#: seconds to wait for a helper before compiling here instead
HELPER_TIMEOUT = 120.0

#: a function to compile: (Numba dispatcher, argument types)
Task = tuple[Any, tuple]

_lock = threading.Lock()


class _Helper:
    """A helper process and the tasks it has reported through on its stdout (``done i``, ``failed i``)."""

    def __init__(self, proc: subprocess.Popen, workdir: str) -> None:
        self.proc = proc
        self.workdir = workdir
        self.reported: set[str] = set()
        self.finished = False
        # task numbers of the inference kernel and its parts ("kernel", "inputs", "finish") the helper has
        self.inference_items: dict[str, str] = {}
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True, name="tmvacompat-warmup").start()

    def _read(self) -> None:
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                with self._cond:
                    self.reported.add(line.split()[-1])  # "done 3" or "failed 3": task 3 is through
                    self._cond.notify_all()
        finally:
            self.proc.wait()
            self.proc.stdout.close()  # type: ignore[union-attr]
            shutil.rmtree(self.workdir, ignore_errors=True)
            with self._cond:
                self.finished = True
                self._cond.notify_all()

    def wait_for(self, items: set[str], timeout: float = HELPER_TIMEOUT) -> bool:
        """Wait until the helper reported every one of ``items`` or ended; whether it did in time."""
        with self._cond:
            return self._cond.wait_for(lambda: self.finished or items <= self.reported, timeout)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


_helpers: dict[tuple[str, bool], _Helper] = {}


def _enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _plain_python() -> bool:
    """A Python interpreter we can start again (not a frozen app, not Python embedded in another program
    such as ROOT's interpreter, whose executable would not take ``-c``)."""
    if getattr(sys, "frozen", False) or not sys.executable:
        return False
    return Path(sys.executable).name.lower().startswith(("python", "pypy"))


def types_cached(dispatcher: Any, argtypes: tuple) -> bool:
    """Whether ``dispatcher`` has code for ``argtypes`` (Numba types) in this process or in its on-disk
    cache. Uses Numba's cache index (not a public API): when that cannot be read, answers True, so no
    helper is started for nothing."""
    try:
        sig = tuple(argtypes)
        if sig in dispatcher.overloads:
            return True
        cache = getattr(dispatcher, "_cache", None)
        cache_file = getattr(cache, "_cache_file", None)
        if cache is None or cache_file is None:  # caching off: a helper could not hand anything over
            return True
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache_file._load_index()
    except Exception:  # noqa: BLE001 - Numba internals changed: behave as if cached (no helper)
        return True


def _claim(workdir: str, i: int) -> bool:
    """Claim task ``i`` for this process (exclusive file creation: exactly one process gets it)."""
    try:
        os.close(os.open(os.path.join(workdir, f"claim-{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:  # claimed by the other process (or its directory is gone: the helper is through)
        return False
    return True


def _compile(task: Task) -> None:
    dispatcher, argtypes = task
    dispatcher.compile(tuple(argtypes))


def _start_helper(tasks: list[Task]) -> _Helper | None:
    try:
        workdir = tempfile.mkdtemp(prefix="tmvacompat-compile-")
    except OSError:  # no writable temporary directory: compile in this process
        return None
    spec = {"tasks": [(d.py_func.__module__, d.py_func.__qualname__, tuple(a)) for d, a in tasks]}
    try:
        with open(os.path.join(workdir, "spec.pkl"), "wb") as f:
            pickle.dump(spec, f)
    except Exception:  # noqa: BLE001 - a type that does not pickle, or a full disk: no helper
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    # os._exit: the helper's cache files are written and closed; skipping Numba's and LLVM's teardown at
    # exit (about half a second) frees the core sooner
    code = f"from tmvacompat.engine.warmup import _main; _main({workdir!r}); import os; os._exit(0)"
    # the helper imports this very package, wherever it came from
    pkg_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True, env=env,
                                text=True)  # fmt: skip
    except OSError:  # no processes allowed here: compile in this process as usual
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    return _Helper(proc, workdir)


def inference_task(dtype: Any) -> Task:
    """The inference kernel :func:`~tmvacompat.engine.inference.dense_infer` for ``dtype`` as a task (one
    compiled kernel serves every network: it calls the activation kernel by address)."""
    from tmvacompat.engine.inference import dense_infer, entry_types

    return dense_infer, entry_types(np.dtype(dtype))


def compile_together(tasks: list[Task], dtype: Any, lean: bool, *, enabled: bool | None = None) -> bool:
    """Compile the functions ``tasks`` (a training's, most expensive first; ``lean``: its activation set,
    see :func:`~tmvacompat.engine.activations.forward_pointer`) and the inference kernel for ``dtype`` (see
    :func:`inference_task`) where they are not cached, sharing the work with a helper process. Returns once
    each training function is compiled here or cached by the helper (so the next ``dispatcher.compile`` of
    one is a cache load), and whether a helper was started. The helper goes on with the inference kernel's
    parts for weight files (:func:`~tmvacompat.engine.inference.part_tasks`: a Factory evaluates its test
    tree with them after training); nothing here waits for those (:func:`wait_inference_compile` does,
    where they are used). Without a helper (switched off, or a single function to compile), the training
    functions are compiled here and the inference kernel and its parts are left to their first use.
    """
    from tmvacompat.engine.inference import part_tasks

    dt = np.dtype(dtype)
    key = (dt.name, bool(lean))
    infer = inference_task(dt)
    # the inference kernel second: a long task is best started early by whichever process is free
    tasks = [*tasks[:1], infer, *tasks[1:]]
    pending = list(dict.fromkeys((d, tuple(a)) for d, a in tasks if not types_cached(d, a)))
    later = {name: (d, tuple(a)) for name, (d, a) in part_tasks(dt).items() if not types_cached(d, a)}
    helper = None
    if (_enabled() if enabled is None else enabled) and _plain_python() and len(pending) >= 2:
        with _lock:
            if key not in _helpers:
                helper = _start_helper(pending + list(later.values()))
                if helper is not None:
                    helper.inference_items = {name: str(len(pending) + j) for j, name in enumerate(later)}
                    _helpers[key] = helper
    if helper is None:
        for task in pending:
            if task != infer:
                _compile(task)
        return False
    theirs = set()
    for i, task in enumerate(pending):
        if _claim(helper.workdir, i):
            _compile(task)
        elif task == infer:
            helper.inference_items["kernel"] = str(i)
        else:
            theirs.add(str(i))
    helper.wait_for(theirs)  # then: cache loads (or, past a failure or the timeout, compiles here)
    return True


def wait_inference_compile(dtype: Any, lean: bool, parts: tuple[str, ...] = ("kernel",)) -> None:
    """Wait until the helper of :func:`compile_together` for ``dtype``/``lean`` has compiled the inference
    kernel and the ``parts`` (``"inputs"``, ``"finish"``) it was given, or has ended (then their first use
    here is a cache load)."""
    with _lock:
        helper = _helpers.get((np.dtype(dtype).name, bool(lean)))
    if helper is not None:
        items = {helper.inference_items[p] for p in ("kernel", *parts) if p in helper.inference_items}
        if items:
            helper.wait_for(items)


def _main(workdir: str) -> None:
    """Helper-process entry: compile (and so cache) the unclaimed tasks in order, reporting each; then
    remove the work directory (every task is claimed by then), also when the main process has ended."""
    try:
        with open(os.path.join(workdir, "spec.pkl"), "rb") as f:
            spec = pickle.load(f)
        for i, (module, name, argtypes) in enumerate(spec["tasks"]):
            if not _claim(workdir, i):
                continue
            try:
                _compile((getattr(importlib.import_module(module), name), argtypes))
                _report(f"done {i}")
            except Exception:  # noqa: BLE001 - the main process compiles it itself
                _report(f"failed {i}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _report(line: str) -> None:
    """Tell the main process; if it has ended, go on filling the cache for the next one."""
    try:
        print(line, flush=True)
    except OSError:
        pass


__all__ = ["ENV_SWITCH", "compile_together", "inference_task", "types_cached",
           "wait_inference_compile"]
