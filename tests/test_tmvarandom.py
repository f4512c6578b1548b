"""ROOT's TRandom3, TMVA's RandomGenerator<TRandom3> and std::shuffle against real ROOT and libstdc++.

The hard-coded values were printed by ROOT 6.40 (PyROOT) and by std::shuffle compiled by ROOT's cling
against libstdc++ (GCC 14 headers); the ``ROOT`` tests recompute them live when PyROOT is installed.
libc++'s shuffle is checked against real TMVA output in test_dataloader.py (TMVAMulticlass on macOS).
"""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.data.tmvarandom import STDLIBS, RandomGenerator, TRandom3, permutation, shuffle
from tmvacompat.errors import OptionError

KMAXUINT = 4294967295


def pyroot():
    return pytest.importorskip("ROOT", reason="PyROOT (the `root` package) is not installed")


# ------------------------------------------------------------------------------------------ TRandom3
def test_trandom3_known_values():
    r = TRandom3(100)
    v = r.rndm_array(1000)
    assert v[:3].tolist() == [0.5434049386531115, 0.6711556371301413, 0.27836938272230327]
    # around the first re-twist of the 624-word state
    assert v[623:626].tolist() == [0.719824573257938, 0.686810698127374, 0.2039413887541741]
    assert TRandom3().Rndm() == 0.999741748906672  # ROOT's default seed 4357
    r = TRandom3(2**31 + 5)
    assert r.Rndm() == 0.9525886869523674
    assert [r.Integer(KMAXUINT) for _ in range(3)] == [3019826526, 2552594696, 2427906160]
    assert TRandom3(100).integer_array(8, 10).tolist() == [5, 6, 2, 4, 4, 5, 8, 1]


def test_random_generator_is_integer_of_kmaxuint():
    g = RandomGenerator(100)
    assert (g.min(), g.max()) == (0, KMAXUINT)
    assert [g() for _ in range(4)] == [2333906439, 2882591511, 1195587394, 1769725798]
    g.seed(100)
    assert g() == 2333906439


def test_seed_zero_is_not_reproducible_and_seeds_wrap_to_32_bits():
    assert TRandom3(0).rndm_array(4).tolist() != TRandom3(0).rndm_array(4).tolist()
    assert TRandom3(-1).Rndm() == TRandom3(KMAXUINT).Rndm()  # UInt_t, as TMVA's SplitSeed


def test_trandom3_against_pyroot():
    ROOT = pyroot()
    for seed in (1, 7, 100, 4357, 2**31 + 5, KMAXUINT, 123456789):
        ours, theirs = TRandom3(seed), ROOT.TRandom3(seed)
        np.testing.assert_array_equal(ours.rndm_array(1500), [theirs.Rndm() for _ in range(1500)])
        for imax in (KMAXUINT, 17, 2):
            assert ours.integer_array(300, imax).tolist() == [theirs.Integer(imax) for _ in range(300)]


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(OptionError) as err:
        shuffle(np.arange(3), RandomGenerator(1), "msvc")
    assert err.value.expected == list(STDLIBS)
    with pytest.raises(OptionError, match="integer"):
        TRandom3(1.5)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="1-d"):
        shuffle(np.zeros((2, 2)), RandomGenerator(1))
    with pytest.raises(OptionError, match="RandomGenerator"):
        shuffle(np.arange(3), np.random.RandomState(1))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="unsigned 32-bit"):
        TRandom3(1).Integer(-1)


# ------------------------------------------------------------------------------------- std::shuffle
def shuffled_then_next(seed: int, n: int, stdlib: str = "libstdc++") -> tuple[list[int], int]:
    g = RandomGenerator(seed)
    p = permutation(n, g, stdlib)
    return p.tolist(), g()


def test_libstdcxx_shuffle_known_permutations():
    # small n: one draw for two swaps, with the extra first swap when n is even
    assert shuffled_then_next(100, 6) == ([3, 4, 5, 0, 1, 2], 1769725798)
    assert shuffled_then_next(100, 7) == ([2, 5, 3, 4, 6, 1, 0], 1769725798)
    assert shuffled_then_next(3, 10) == ([3, 1, 8, 5, 2, 6, 9, 7, 0, 4], 521102279)
    assert shuffled_then_next(1, 2) == ([1, 0], 4282876138)
    assert shuffled_then_next(5, 3) == ([1, 2, 0], 236996813)
    assert shuffled_then_next(5, 1) == ([0], RandomGenerator(5)())  # nothing drawn


@pytest.mark.parametrize(
    "n, head, tail, checksum, after",
    [
        # 65535^2 < 2^32 - 1: still two swaps per draw
        (65535, [9140, 1324, 46356, 7545, 64673], [3942, 40314, 25467], 460352, 3163455582),
        # 65536^2 > 2^32 - 1: one draw per swap
        (65536, [39437, 53659, 60244, 20923, 38668], [41464, 31302, 37472], 451005, 640862470),
    ],
)
def test_libstdcxx_shuffle_both_sides_of_the_two_swap_limit(n, head, tail, checksum, after):
    p, nxt = shuffled_then_next(9, n)
    p = np.asarray(p)
    assert p[:5].tolist() == head and p[-3:].tolist() == tail
    assert int(np.sum(p * np.arange(n)) % 1000003) == checksum and nxt == after


def test_shuffle_any_dtype_matches_the_index_permutation():
    values = np.linspace(0.0, 1.0, 11).astype(np.float32)
    for stdlib in STDLIBS:
        a = values.copy()
        shuffle(a, RandomGenerator(42), stdlib)
        np.testing.assert_array_equal(a, values[permutation(11, RandomGenerator(42), stdlib)])
        assert sorted(a.tolist()) == sorted(values.tolist())


def test_libcxx_shuffle_is_a_different_permutation():
    assert shuffled_then_next(100, 6, "libc++")[0] == [2, 0, 3, 4, 1, 5]
    assert shuffled_then_next(100, 6, "libc++")[0] != shuffled_then_next(100, 6, "libstdc++")[0]


_CPP = r"""
#include "TRandom3.h"
#include <algorithm>
#include <vector>
struct TmvacompatRG {  // TMVA::RandomGenerator<TRandom3> (TMVA/Tools.h), which the pip ROOT lacks
   using result_type = UInt_t;
   TRandom3 fR;
   explicit TmvacompatRG(UInt_t s) { fR.SetSeed(s); }
   static constexpr UInt_t min() { return 0; }
   static constexpr UInt_t max() { return kMaxUInt; }
   UInt_t operator()() { return fR.Integer(max()); }
};
std::vector<long> tmvacompat_shuffles(UInt_t seed, std::vector<long> sizes) {
   TmvacompatRG g(seed);
   std::vector<long> out;
   for (long n : sizes) {
      std::vector<long> v(n);
      for (long i = 0; i < n; ++i) v[i] = i;
      std::shuffle(v.begin(), v.end(), g);
      out.insert(out.end(), v.begin(), v.end());
   }
   out.push_back(g());
   return out;
}
bool tmvacompat_uses_libstdcxx() {
#ifdef __GLIBCXX__
   return true;
#else
   return false;
#endif
}
"""


def test_libstdcxx_shuffle_against_cling_compiled_std_shuffle():
    ROOT = pyroot()
    if not hasattr(ROOT, "tmvacompat_shuffles"):
        ROOT.gInterpreter.Declare(_CPP)
    if not ROOT.tmvacompat_uses_libstdcxx():
        pytest.skip("ROOT's interpreter does not use libstdc++")
    for seed, sizes in [(100, [2000, 2000, 3, 1, 2]), (7, [65535, 65536]), (11, [100001, 5])]:
        ref = np.asarray(list(ROOT.tmvacompat_shuffles(seed, sizes)))
        g = RandomGenerator(seed)
        ours = np.concatenate([permutation(n, g) for n in sizes] + [[g()]])
        np.testing.assert_array_equal(ours, ref)


def test_shuffle_is_fast_for_millions():
    import time

    permutation(10, RandomGenerator(1))  # compiled
    t0 = time.perf_counter()
    p = permutation(2_000_000, RandomGenerator(1))
    assert time.perf_counter() - t0 < 5.0
    assert np.array_equal(np.sort(p), np.arange(2_000_000))
