"""ROOT's ``TRandom3``, ``TMVA::RandomGenerator<TRandom3>`` and C++'s ``std::shuffle``, bit for bit.

TMVA's ``DataSetFactory::MixEvents`` splits and mixes events with ``std::shuffle`` driven by a
``TMVA::RandomGenerator<TRandom3>`` seeded with ``SplitSeed``. Reproducing TMVA's training and test samples
needs all three pieces exactly:

* :class:`TRandom3`: MT19937 with ROOT's seeding (``TRandom3::SetSeed``: ``mt[0] = seed``, then Knuth's
  multiplier 1812433253), ``Rndm()`` = tempered word times 2^-32, a zero word being skipped, and
  ``Integer(imax)`` = ``UInt_t(Rndm() * imax)``;
* :class:`RandomGenerator`: TMVA's adaptor (``TMVA/Tools.h``) with ``min() = 0``, ``max() = 2^32 - 1`` whose
  ``operator()`` returns ``Integer(max())``;
* :func:`shuffle`: ``std::shuffle`` as the C++ standard library that ROOT was built with implements it.
  ``"libstdc++"`` (GCC, Linux): ``uniform_int_distribution`` reduces a 32-bit draw by Lemire's
  multiply-and-reject (GCC >= 11), and while ``n * n`` fits the generator's range one draw in
  ``[0, (k+1)(k+2))`` gives the swap positions of two successive elements. ``"libc++"`` (LLVM, macOS):
  Fisher-Yates from the front, each position ``i`` drawn in ``[0, n-1-f]`` by masking a draw to
  ``ceil(log2(range))`` bits and rejecting values outside the range.

The generators keep their state in numpy arrays and the loops are compiled with numba, so shuffling
millions of events takes milliseconds.

Example:
    >>> r = TRandom3(100)
    >>> round(r.Rndm(), 12)
    0.543404938653
    >>> permutation(6, RandomGenerator(100), "libstdc++").tolist()
    [3, 4, 5, 0, 1, 2]
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

from tmvacompat.errors import OptionError

__all__ = ["STDLIBS", "RandomGenerator", "TRandom3", "permutation", "shuffle"]

#: The C++ standard libraries whose ``std::shuffle`` is reproduced (the first is the default).
STDLIBS: tuple[str, ...] = ("libstdc++", "libc++")

_N = 624
_M = 397
_U32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


# ------------------------------------------------------------------------------------------ kernels
@njit(cache=True)
def _twist(mt: np.ndarray) -> None:
    for i in range(_N):
        y = (np.int64(mt[i]) & 0x80000000) | (np.int64(mt[(i + 1) % _N]) & 0x7FFFFFFF)
        v = np.int64(mt[(i + _M) % _N]) ^ (y >> 1)
        if y & 1:
            v ^= 0x9908B0DF
        mt[i] = v


@njit(cache=True)
def _rndm(mt: np.ndarray, pos: np.ndarray) -> float:
    while True:  # TRandom3::Rndm: a tempered word of 0 is skipped, so the result is in ]0, 1[
        if pos[0] >= _N:
            _twist(mt)
            pos[0] = 0
        y = np.int64(mt[pos[0]])
        pos[0] += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        if y != 0:
            return y * 2.3283064365386963e-10


@njit(cache=True)
def _integer(mt: np.ndarray, pos: np.ndarray, imax: int) -> int:
    return np.int64(_rndm(mt, pos) * np.float64(imax))


@njit(cache=True)
def _rndm_array(mt: np.ndarray, pos: np.ndarray, out: np.ndarray) -> None:
    for k in range(out.shape[0]):
        out[k] = _rndm(mt, pos)


@njit(cache=True)
def _integer_array(mt: np.ndarray, pos: np.ndarray, imax: int, out: np.ndarray) -> None:
    for k in range(out.shape[0]):
        out[k] = _integer(mt, pos, imax)


@njit(cache=True)
def _draw(mt: np.ndarray, pos: np.ndarray) -> int:
    # RandomGenerator<TRandom3>::operator(): Integer(kMaxUInt)
    return np.int64(_rndm(mt, pos) * 4294967295.0)


@njit(cache=True)
def _gnu_uniform(mt: np.ndarray, pos: np.ndarray, n: int) -> int:
    # libstdc++ uniform_int_distribution over a 32-bit generator: Lemire's nearly divisionless reduction
    product = np.uint64(_draw(mt, pos)) * np.uint64(n)
    low = np.int64(product & _U32)
    if low < n:
        threshold = (4294967296 - n) % n
        while low < threshold:
            product = np.uint64(_draw(mt, pos)) * np.uint64(n)
            low = np.int64(product & _U32)
    return np.int64(product >> _SHIFT32)


@njit(cache=True)
def _shuffle_gnu(a: np.ndarray, mt: np.ndarray, pos: np.ndarray) -> None:
    n = a.shape[0]
    if n == 0:
        return
    if 4294967295 // n >= n:  # two swaps per draw
        i = 1
        if n % 2 == 0:
            j = _gnu_uniform(mt, pos, 2)
            a[i], a[j] = a[j], a[i]
            i += 1
        while i != n:
            b1 = i + 2  # the swap ranges of positions i and i + 1
            x = _gnu_uniform(mt, pos, (i + 1) * b1)
            j = x // b1
            a[i], a[j] = a[j], a[i]
            i += 1
            j = x % b1
            a[i], a[j] = a[j], a[i]
            i += 1
        return
    for i in range(1, n):
        j = _gnu_uniform(mt, pos, i + 1)
        a[i], a[j] = a[j], a[i]


@njit(cache=True)
def _llvm_uniform(mt: np.ndarray, pos: np.ndarray, n: int) -> int:
    # libc++ uniform_int_distribution (n >= 2): ceil(log2 n) low bits of one draw, rejected if >= n
    w = 0
    while (np.int64(1) << w) < n:
        w += 1
    mask = (np.int64(1) << w) - 1
    while True:
        u = _draw(mt, pos) & mask
        if u < n:
            return u


@njit(cache=True)
def _shuffle_llvm(a: np.ndarray, mt: np.ndarray, pos: np.ndarray) -> None:
    n = a.shape[0]
    for f in range(n - 1):
        i = _llvm_uniform(mt, pos, n - f)
        if i != 0:
            a[f], a[f + i] = a[f + i], a[f]


# ------------------------------------------------------------------------------------------ classes
class TRandom3:
    """ROOT's ``TRandom3`` (Mersenne Twister MT19937 with ROOT's seeding and ``Rndm``).

    ``seed`` 0 seeds from the operating system's entropy (ROOT takes a ``TUUID``): not reproducible.

    >>> r = TRandom3(100)
    >>> r.Integer(10), r.Integer(10)
    (5, 6)
    """

    def __init__(self, seed: int = 4357) -> None:
        self._mt = np.zeros(_N, np.uint32)
        self._pos = np.array([_N], np.int64)
        self.SetSeed(seed)

    def SetSeed(self, seed: int) -> None:
        """Restart the sequence from ``seed`` (as an unsigned 32-bit value; 0: not reproducible).

        >>> r = TRandom3(); r.SetSeed(100); round(r.Rndm(), 6)
        0.543405
        """
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise OptionError(
                f"TRandom3 seed must be an integer, got {seed!r}", token=str(seed), expected=["an integer"]
            )
        s = int(seed) & 0xFFFFFFFF
        mt = [0] * _N
        if s:
            mt[0], first = s, 1
        else:  # ROOT: 8 words from a TUUID's 16 bytes, words 2..7 offset by word 0
            b = os.urandom(16)
            for i in range(8):
                mt[i] = b[2 * i] * 256 + b[2 * i + 1] + (mt[0] if i > 1 else 0)
            first = 8
        for i in range(first, _N):
            prev = mt[i - 1]
            mt[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF
        self._mt[:] = mt
        self._pos[0] = _N

    def Rndm(self) -> float:
        """The next uniform number in ]0, 1[ (ROOT's ``TRandom3::Rndm``).

        >>> 0.0 < TRandom3(1).Rndm() < 1.0
        True
        """
        return float(_rndm(self._mt, self._pos))

    def Integer(self, imax: int) -> int:
        """``UInt_t(Rndm() * imax)``: an integer in ``[0, imax)`` (ROOT's ``TRandom::Integer``).

        >>> 0 <= TRandom3(1).Integer(5) < 5
        True
        """
        if not 0 <= int(imax) <= 0xFFFFFFFF:
            raise OptionError(
                f"TRandom3.Integer: imax must be an unsigned 32-bit integer, got {imax}",
                token=str(imax),
                expected=["0 <= imax <= 4294967295"],
            )
        return int(_integer(self._mt, self._pos, int(imax)))

    def rndm_array(self, n: int) -> np.ndarray:
        """The next ``n`` values of :meth:`Rndm` as a float64 array.

        >>> TRandom3(100).rndm_array(2).round(6).tolist()
        [0.543405, 0.671156]
        """
        out = np.empty(int(n), np.float64)
        _rndm_array(self._mt, self._pos, out)
        return out

    def integer_array(self, n: int, imax: int) -> np.ndarray:
        """The next ``n`` values of :meth:`Integer` (``imax``) as an int64 array.

        >>> TRandom3(100).integer_array(3, 10).tolist()
        [5, 6, 2]
        """
        out = np.empty(int(n), np.int64)
        _integer_array(self._mt, self._pos, int(imax), out)
        return out


class RandomGenerator:
    """``TMVA::RandomGenerator<TRandom3>``: a C++ uniform random bit generator over ``TRandom3``.

    ``min()`` is 0, ``max()`` is 2^32 - 1 and each call returns ``TRandom3::Integer(max())``. It is
    constructed with ``SetSeed(seed)``, so ``seed`` 0 is not reproducible (as in ROOT).

    >>> g = RandomGenerator(100)
    >>> g(), RandomGenerator.min(), RandomGenerator.max()
    (2333906439, 0, 4294967295)
    """

    def __init__(self, seed: int = 0) -> None:
        self.engine = TRandom3(seed)

    @staticmethod
    def min() -> int:
        return 0

    @staticmethod
    def max() -> int:
        return 0xFFFFFFFF

    def seed(self, s: int = 0) -> None:
        """Re-seed the underlying ``TRandom3``."""
        self.engine.SetSeed(s)

    def __call__(self) -> int:
        return int(_draw(self.engine._mt, self.engine._pos))


def _stdlib(stdlib: str) -> str:
    for name in STDLIBS:
        if str(stdlib).lower() == name:
            return name
    raise OptionError(
        f"unknown C++ standard library {stdlib!r} for std::shuffle", token=str(stdlib), expected=list(STDLIBS)
    )


def shuffle(a: np.ndarray, gen: RandomGenerator, stdlib: str = "libstdc++") -> None:
    """Shuffle the 1-d array ``a`` in place as ``std::shuffle(a.begin(), a.end(), gen)`` does.

    ``stdlib`` chooses the implementation: ``"libstdc++"`` (GCC; ROOT on Linux) or ``"libc++"`` (LLVM;
    ROOT on macOS). ``gen`` advances exactly as the C++ generator would.

    >>> a = np.arange(6); shuffle(a, RandomGenerator(100), "libc++"); a.tolist()
    [2, 0, 3, 4, 1, 5]
    """
    name = _stdlib(stdlib)
    if not isinstance(gen, RandomGenerator):
        raise OptionError(
            f"shuffle needs a RandomGenerator, got {type(gen).__name__}", expected=["RandomGenerator(seed)"]
        )
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise OptionError(f"shuffle needs a 1-d array, got shape {arr.shape}", expected=["a 1-d array"])
    if len(arr) < 2:
        return
    work = arr if arr.dtype == np.int64 and arr.flags.writeable else np.arange(len(arr), dtype=np.int64)
    kernel = _shuffle_gnu if name == "libstdc++" else _shuffle_llvm
    kernel(work, gen.engine._mt, gen.engine._pos)
    if work is not arr:
        arr[:] = arr[work]


def permutation(n: int, gen: RandomGenerator, stdlib: str = "libstdc++") -> np.ndarray:
    """``std::shuffle`` of ``0, 1, ..., n-1``: element ``k`` of the shuffled vector is ``v[result[k]]``.

    >>> permutation(4, RandomGenerator(7)).tolist()
    [2, 0, 3, 1]
    """
    out = np.arange(int(n), dtype=np.int64)
    shuffle(out, gen, stdlib)
    return out
