"""TMVA's ``PDF``: a histogram turned into a probability density (``tmva/tmva/src/PDF.cxx``).

A :class:`PDF` keeps the *original* histogram (what the weight file stores) and rebuilds from it what
TMVA's ``BuildSplinePDF`` builds: the smoothed histogram (``TH1::Smooth``, ROOT's 353QH algorithm), a
graph of its bin centres, a spline through the graph (``InterpolMethod``: 0 = Spline0, the histogram
itself; 1 = TMVA's TSpline1, linear; 2 = TMVA's TSpline2, quadratic in float; 3 = ROOT's TSpline3, cubic
not-a-knot), sampled at the centres of a 10000-bin float histogram (``fPDFHist``), normalised to unit
integral for MVA PDFs. ``GetVal`` interpolates linearly between the centres of that histogram and never
returns less than 1e-12; ``GetIntegral`` sums its bins (TMVA's manual integration, quirks included).

The MVA PDFs of ``CreateMVAPdfs`` are built by :func:`build_mva_pdfs` (``MethodBase::CreateMVAPdfs``);
their settings come from the ``...MVAPdf`` options through :func:`mva_pdf_settings`
(``PDF::DeclareOptions`` / ``ProcessOptions`` with the suffixes ``MVAPdf``, ``MVAPdfBkg``, ``MVAPdfSig``).

Example:
    >>> import numpy as np
    >>> p = PDF(np.array([1.0, 2.0, 3.0, 2.0, 1.0]), xmin=0.0, xmax=5.0, interpol=2)
    >>> round(float(p.integral(0.0, 5.0)[0]), 6)
    1.0
    >>> bool(p.get_val(np.array([2.5]))[0] > p.get_val(np.array([0.5]))[0])
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.errors import InputDataError, OptionError, WeightFileError

PDF_NBINS = 10000  # PDF::fgNbin_PdfHist
PDF_EPSILON = 1.0e-12  # PDF::fgEpsilon

#: PDF::EInterpolateMethod, by option value
INTERPOLATIONS = {"Spline0": 0, "Spline1": 1, "Spline2": 2, "Spline3": 3, "Spline5": 4, "KDE": 5}
_SUPPORTED = (0, 1, 2, 3)


# ---------------------------------------------------------------------------------------------------------
# axis helpers and GetVal (numba kernels shared with the Gauss transform)
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def find_bin(x, fixed, nb, xmin, xmax, edges):
    """TAxis::FindBin (no axis extension): 0 underflow, nb+1 overflow."""
    if x < xmin:
        return 0
    if not (x < xmax):
        return nb + 1
    if fixed:
        return 1 + int(nb * (x - xmin) / (xmax - xmin))
    lo, hi = 0, edges.shape[0]  # std::lower_bound, then TMath::BinarySearch's "largest <= x"
    while lo < hi:
        mid = (lo + hi) // 2
        if edges[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    if lo < edges.shape[0] and edges[lo] == x:
        return 1 + lo
    return lo


@njit(cache=True, error_model="numpy")
def find_bins(xs, fixed, nb, xmin, xmax, edges):
    """:func:`find_bin` for every value of ``xs``."""
    out = np.empty(xs.shape[0], np.int64)
    for i in range(xs.shape[0]):
        out[i] = find_bin(xs[i], fixed, nb, xmin, xmax, edges)
    return out


@njit(cache=True, error_model="numpy")
def bin_center(b, fixed, nb, xmin, xmax, edges):
    """TAxis::GetBinCenter."""
    if fixed or b < 1 or b > nb:
        w = (xmax - xmin) / nb
        return xmin + (b - 1) * w + 0.5 * w
    w = edges[b] - edges[b - 1]
    return edges[b - 1] + 0.5 * w


@njit(cache=True, error_model="numpy")
def get_val_one(xi, fixed, nb, xmin, xmax, edges, content, use_hist):
    """PDF::GetVal of one value over the reference histogram ``content`` (with under/overflow)."""
    b = find_bin(xi, fixed, nb, xmin, xmax, edges)
    b = max(b, 1)
    b = min(b, nb)
    if use_hist:
        r = content[b]
    else:
        cb = bin_center(b, fixed, nb, xmin, xmax, edges)
        nxt = b + 1 if ((xi > cb and b != nb) or b == 1) else b - 1
        cn = bin_center(nxt, fixed, nb, xmin, xmax, edges)
        r = content[b] + (xi - cb) * (content[b] - content[nxt]) / (cb - cn)
    return r if r >= PDF_EPSILON else PDF_EPSILON  # TMath::Max(retval, fgEpsilon): NaN -> epsilon


@njit(cache=True, error_model="numpy")
def _get_val(x, fixed, nb, xmin, xmax, edges, content, use_hist, out):
    for i in range(x.shape[0]):
        out[i] = get_val_one(x[i], fixed, nb, xmin, xmax, edges, content, use_hist)


# ---------------------------------------------------------------------------------------------------------
# TH1::SmoothArray (ROOT's 353QH twice)
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _med3(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


@njit(cache=True, error_model="numpy")
def smooth_array(xx, ntimes=1):
    """ROOT's ``TH1::SmoothArray(nn, xx, ntimes)`` in place (float64 array of at least 3 values)."""
    nn = xx.shape[0]
    yy = np.empty(nn)
    rr = np.empty(nn)
    hh = np.empty(5)
    for _ in range(ntimes):
        zz = xx.copy()
        for noent in range(2):
            for kk in range(3):
                yy[:] = zz
                mtype = 5 if kk == 1 else 3
                ifirst = 2 if kk == 1 else 1
                ilast = nn - 2 if kk == 1 else nn - 1
                for ii in range(ifirst, ilast):
                    for jj in range(mtype):  # insertion sort of the window; its middle is the median
                        v = yy[ii - ifirst + jj]
                        q = jj
                        while q > 0 and hh[q - 1] > v:
                            hh[q] = hh[q - 1]
                            q -= 1
                        hh[q] = v
                    zz[ii] = hh[mtype // 2]
                if kk == 0:
                    zz[0] = _med3(zz[1], zz[0], 3 * zz[1] - 2 * zz[2])
                    zz[nn - 1] = _med3(zz[nn - 2], zz[nn - 1], 3 * zz[nn - 2] - 2 * zz[nn - 3])
                if kk == 1:
                    zz[1] = _med3(yy[0], yy[1], yy[2])
                    zz[nn - 2] = _med3(yy[nn - 3], yy[nn - 2], yy[nn - 1])
            yy[:] = zz
            for ii in range(2, nn - 2):  # quadratic interpolation for flat segments
                if zz[ii - 1] != zz[ii] or zz[ii] != zz[ii + 1]:
                    continue
                h0 = zz[ii - 2] - zz[ii]
                h1 = zz[ii + 2] - zz[ii]
                if h0 * h1 <= 0:
                    continue
                jk = -1 if abs(h1) > abs(h0) else 1
                yy[ii] = -0.5 * zz[ii - 2 * jk] + zz[ii] / 0.75 + zz[ii + 2 * jk] / 6.0
                yy[ii + jk] = 0.5 * (zz[ii + 2 * jk] - zz[ii - 2 * jk]) + zz[ii]
            for ii in range(1, nn - 1):  # running means
                zz[ii] = 0.25 * yy[ii - 1] + 0.5 * yy[ii] + 0.25 * yy[ii + 1]
            zz[0] = yy[0]
            zz[nn - 1] = yy[nn - 1]
            if noent == 0:
                rr[:] = zz
                for ii in range(nn):
                    zz[ii] = xx[ii] - zz[ii]
        xmin = xx.min()
        for ii in range(nn):
            xx[ii] = rr[ii] + zz[ii] if xmin < 0 else max(rr[ii] + zz[ii], 0.0)


def th1_smooth(contents: np.ndarray, ntimes: int = 1, float_storage: bool = True) -> np.ndarray:
    """``TH1::Smooth(ntimes)`` of a histogram's bin contents (a TH1F stores the result as float).

    Fewer than 3 bins are left alone (ROOT refuses to smooth them).

    >>> th1_smooth(np.array([0.0, 0.0, 9.0, 0.0, 0.0]), 1, float_storage=False).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    xx = np.array(contents, np.float64)
    if xx.shape[0] < 3 or ntimes < 1:
        return xx
    smooth_array(xx, int(ntimes))
    return xx.astype(np.float32).astype(np.float64) if float_storage else xx


# ---------------------------------------------------------------------------------------------------------
# the splines PDF::BuildSplinePDF uses
# ---------------------------------------------------------------------------------------------------------


def _spline1(gx: np.ndarray, gy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """TMVA::TSpline1::Eval: linear between the graph point at or below x and its neighbour."""
    n = gx.shape[0]
    if n == 1:
        return np.full(x.shape, gy[0])
    ib = np.clip(np.searchsorted(gx, x, side="right") - 1, 0, n - 1)
    up = ((x > gx[ib]) & (ib != n - 1)) | (ib == 0)
    nx = np.where(up, ib + 1, ib - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return gy[ib] + (x - gx[ib]) * (gy[ib] - gy[nx]) / (gx[ib] - gx[nx])


def _quadrax(dm, dm1, dm2, dm3, c1, c2, c3) -> np.ndarray:
    """TMVA::TSpline2::Quadrax: the parabola through three points, all in float arithmetic."""
    f = np.float32
    dm, dm1, dm2, dm3, c1, c2, c3 = (np.asarray(v, f) for v in (dm, dm1, dm2, dm3, c1, c2, c3))
    with np.errstate(all="ignore"):
        a = c1 * (dm2 - dm3) + c2 * (dm3 - dm1) + c3 * (dm1 - dm2)
        b = c1 * (dm2 * dm2 - dm3 * dm3) + c2 * (dm3 * dm3 - dm1 * dm1) + c3 * (dm1 * dm1 - dm2 * dm2)
        c = c1 * (dm2 - dm3) * dm2 * dm3 + c2 * (dm3 - dm1) * dm3 * dm1 + c3 * (dm1 - dm2) * dm1 * dm2
        denom = (dm2 - dm3) * (dm3 - dm1) * (dm1 - dm2)
        val = (-a * dm * dm + b * dm - c) / denom
    return np.where(denom != 0, val, f(0)).astype(np.float64)


def _spline2(gx: np.ndarray, gy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """TMVA::TSpline2::Eval: the parabola through the 3 nearest points (mean of two in the middle)."""
    n = gx.shape[0]
    ib = np.clip(np.searchsorted(gx, x, side="right") - 1, 0, n - 1)
    if n < 3:
        return gy[ib].astype(np.float64)
    out = np.empty(x.shape, np.float64)
    first, last = ib == 0, ib >= n - 2
    mid = ~(first | last)
    if first.any():
        out[first] = _quadrax(x[first], gx[0], gx[1], gx[2], gy[0], gy[1], gy[2])
    if last.any():
        out[last] = _quadrax(x[last], gx[n - 3], gx[n - 2], gx[n - 1], gy[n - 3], gy[n - 2], gy[n - 1])
    if mid.any():
        i = ib[mid]
        q1 = _quadrax(x[mid], gx[i - 1], gx[i], gx[i + 1], gy[i - 1], gy[i], gy[i + 1])
        q2 = _quadrax(x[mid], gx[i], gx[i + 1], gx[i + 2], gy[i], gy[i + 1], gy[i + 2])
        out[mid] = (q1 + q2) * 0.5
    return out


def _spline3(gx: np.ndarray, gy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """ROOT's TSpline3 from a graph without end conditions: the not-a-knot cubic spline (de Boor's CUBSPL),
    extrapolated with the end polynomials."""
    n = gx.shape[0]
    if n < 2:
        return np.full(x.shape, float(gy[0]))
    c2, c3, c4 = np.zeros(n), np.zeros(n), np.zeros(n)
    c3[1:] = gx[1:] - gx[:-1]
    c4[1:] = (gy[1:] - gy[:-1]) / c3[1:]
    last = n - 1
    if n == 2:
        c4[0], c3[0], c2[0] = 1.0, 1.0, 2.0 * c4[1]
    else:
        c4[0] = c3[2]
        c3[0] = c3[1] + c3[2]
        c2[0] = ((c3[1] + 2.0 * c3[0]) * c4[1] * c3[2] + c3[1] * c3[1] * c4[2]) / c3[0]
    for m in range(1, last):
        g = -c3[m + 1] / c4[m - 1]
        c2[m] = g * c2[m - 1] + 3.0 * (c3[m] * c4[m + 1] + c3[m + 1] * c4[m])
        c4[m] = g * c3[m - 1] + 2.0 * (c3[m] + c3[m + 1])
    if n == 2:
        c2[last] = c4[last]
    else:
        if n == 3:
            c2[last] = 2.0 * c4[last]
            c4[last] = 1.0
            g = -1.0 / c4[last - 1]
        else:
            g = c3[last - 1] + c3[last]
            c2[last] = ((c3[last] + 2.0 * g) * c4[last] * c3[last - 1]
                        + c3[last] * c3[last] * (gy[last - 1] - gy[last - 2]) / c3[last - 1]) / g  # fmt: skip
            g = -g / c4[last - 1]
            c4[last] = c3[last - 1]
        c4[last] = g * c3[last - 1] + c4[last]
        c2[last] = (g * c2[last - 1] + c2[last]) / c4[last]
    for j in range(last - 1, -1, -1):
        c2[j] = (c2[j] - c3[j] * c2[j + 1]) / c4[j]
    b, c, d = c2.copy(), np.zeros(n), np.zeros(n)
    for i in range(1, n):
        dtau = c3[i]
        divdf1 = (gy[i] - gy[i - 1]) / dtau
        divdf3 = c2[i - 1] + c2[i] - 2.0 * divdf1
        c[i - 1] = (divdf1 - c2[i - 1] - divdf3) / dtau
        d[i - 1] = divdf3 / (dtau * dtau)
    k = np.clip(np.searchsorted(gx, x, side="right") - 1, 0, n - 2)
    dx = x - gx[k]
    return gy[k] + dx * (b[k] + dx * (c[k] + dx * d[k]))


_SPLINES = {1: _spline1, 2: _spline2, 3: _spline3}


# ---------------------------------------------------------------------------------------------------------
# the PDF
# ---------------------------------------------------------------------------------------------------------


class PDF:
    """A TMVA ``PDF`` rebuilt from its original histogram.

    Args:
        contents: the original histogram's bin contents (what ``<Histogram>`` stores).
        edges: nbins+1 bin edges for a variable binning; None for equidistant bins on [xmin, xmax].
        interpol: PDF::EInterpolateMethod (0 Spline0, 1 Spline1, 2 Spline2, 3 Spline3; 4 Spline5 and
            5 KDE are refused).
        min_nsmooth, max_nsmooth: smoothing iterations (``TH1::Smooth``) before the spline.
        normalize: scale the reference histogram to unit integral (MVA PDFs; the Gauss transform's
            cumulative PDFs are not normalised).
        float_storage: the histograms are TH1F (as TMVA rebuilds them when reading a weight file); False
            keeps double contents (the TH1D of a fresh ``CreateMVAPdfs``).
        errors: bin errors of the original histogram (only used when min_nsmooth != max_nsmooth); default
            ``sqrt(|content|)`` as for a histogram without Sumw2.
        name, hist_name, kde_*: carried for the weight file.

    >>> p = PDF([1.0, 1.0, 1.0, 1.0], xmin=0.0, xmax=2.0, interpol=0)
    >>> p.get_val(np.array([1.0])).tolist()
    [0.5]
    """

    def __init__(self, contents, edges=None, *, xmin: float | None = None, xmax: float | None = None,
                 interpol: int = 2, min_nsmooth: int = 0, max_nsmooth: int = 0, normalize: bool = True,
                 float_storage: bool = True, errors=None, name: str = "", hist_name: str = "",
                 kde_type: int = 0, kde_iter: int = 1, kde_border: int = 1, kde_finefactor: float = 0.0,
                 content_dtype=np.float64) -> None:  # fmt: skip
        self.contents = np.asarray(contents, content_dtype).ravel()
        nb = self.contents.shape[0]
        if nb < 1:
            raise WeightFileError(f"PDF histogram {hist_name!r} needs at least one bin", token=hist_name)
        if edges is not None:
            self.edges = np.asarray(edges, np.float64).ravel()
            if self.edges.shape[0] != nb + 1:
                raise WeightFileError(f"histogram {hist_name!r}: {nb} bins but {self.edges.shape[0]} edges",
                                      token=hist_name, expected=[f"{nb + 1} bin edges"])  # fmt: skip
            if np.any(np.diff(self.edges) < 0):
                raise WeightFileError(f"bin edges of histogram {hist_name!r} decrease", token=hist_name)
        else:
            self.edges = None
            if xmin is None or xmax is None:
                raise WeightFileError(
                    f"equidistant histogram {hist_name!r} needs XMin and XMax", token=hist_name
                )
        self.xmin = float(self.edges[0]) if xmin is None else float(xmin)
        self.xmax = float(self.edges[-1]) if xmax is None else float(xmax)
        if not self.xmax > self.xmin:
            raise WeightFileError(f"histogram {hist_name!r} has XMin={self.xmin} >= XMax={self.xmax}",
                                  token=hist_name, expected=["XMin < XMax"])  # fmt: skip
        if int(interpol) not in _SUPPORTED:
            names = {v: k for k, v in INTERPOLATIONS.items()}
            raise WeightFileError(
                f"PDF {name!r} uses InterpolMethod={interpol} ({names.get(int(interpol), 'unknown')}); "
                "tmvacompat supports 0 (Spline0), 1 (Spline1), 2 (Spline2) and 3 (Spline3)",
                token=str(interpol),
                expected=[str(i) for i in _SUPPORTED],
            )
        if min_nsmooth < 0 or (max_nsmooth > 0 and max_nsmooth < min_nsmooth):
            raise WeightFileError(
                f"PDF {name!r}: MinNSmooth={min_nsmooth}, MaxNSmooth={max_nsmooth}",
                token=str(min_nsmooth),
                expected=["0 <= MinNSmooth <= MaxNSmooth"],
            )
        self.interpol = int(interpol)
        self.min_nsmooth, self.max_nsmooth = int(min_nsmooth), int(max_nsmooth)
        self.normalize, self.float_storage = bool(normalize), bool(float_storage)
        self.errors = None if errors is None else np.asarray(errors, np.float64).ravel()
        self.name, self.hist_name = name, hist_name
        self.kde_type, self.kde_iter, self.kde_border = int(kde_type), int(kde_iter), int(kde_border)
        self.kde_finefactor = float(kde_finefactor)
        self._table: tuple | None = None

    # -- the original histogram's axis --------------------------------------------------------------------
    def _axis(self) -> tuple[bool, int, float, float, np.ndarray]:
        nb = self.contents.shape[0]
        if self.edges is None:
            return True, nb, self.xmin, self.xmax, np.zeros(1)
        return False, nb, float(self.edges[0]), float(self.edges[-1]), self.edges

    def _store(self, v: np.ndarray) -> np.ndarray:
        return v.astype(np.float32).astype(np.float64) if self.float_storage else v

    def smoothed(self) -> np.ndarray:
        """The smoothed histogram's contents (PDF::SmoothHistogram on the original)."""
        hist = self._store(self.contents.astype(np.float64))
        nb = hist.shape[0]
        if self.max_nsmooth <= 0 or nb == 1:
            return hist
        if self.max_nsmooth == self.min_nsmooth:
            return th1_smooth(hist, self.min_nsmooth, self.float_storage)
        # per-bin smoothing counts from the relative bin errors (float arithmetic, as TMVA)
        f = np.float32
        err = self.errors if self.errors is not None else np.sqrt(np.abs(hist))
        good = ~(hist <= err)
        with np.errstate(all="ignore"):
            rel = (err / hist).astype(f)
            avg = f(0)
            rms = f(0)
            for r in rel[good]:
                avg = f(avg + r)
                rms = f(rms + r * r)
            num = int(good.sum())
            avg = f(avg / f(num)) if num else f(np.nan)
            rms = f(np.sqrt(np.float64(f(rms / f(num)) - avg * avg))) if num else f(np.nan)
            hi, lo = f(avg + rms), f(avg - rms)
            span = self.max_nsmooth - self.min_nsmooth
            raw = ((rel - lo) / (hi - lo) * f(span)).astype(np.float64)
        steps = np.where(np.isfinite(raw), np.trunc(np.nan_to_num(raw)), 0).astype(np.int64)
        steps = steps + self.min_nsmooth
        steps = np.where(good, steps, self.max_nsmooth)
        steps = np.clip(steps, self.min_nsmooth, self.max_nsmooth)
        for n in range(self.max_nsmooth, -1, -1):
            if n <= self.min_nsmooth:
                hist = th1_smooth(hist, 1, self.float_storage)
                continue
            lo_bin = hi_bin = -1
            for b in range(nb):
                if steps[b] >= n:
                    if lo_bin == -1:
                        lo_bin = b
                    else:
                        hi_bin = b
                elif hi_bin >= 0:
                    hist = th1_smooth(hist, 1, self.float_storage)  # TMVA smooths the whole histogram here
                    lo_bin = hi_bin = -1
                else:
                    lo_bin = -1
        return hist

    def table(self) -> tuple:
        """The reference histogram GetVal reads: (fixed, nbins, xmin, xmax, edges, content+under/overflow)."""
        if self._table is not None:
            return self._table
        fixed, nb, xmin, xmax, edges = self._axis()
        smooth = self.smoothed()
        if self.interpol == 0:  # Spline0: the (smoothed) histogram itself
            ref = smooth.copy()
            rfixed, rnb, redges = fixed, nb, edges
        else:
            if fixed:
                w = (xmax - xmin) / nb
                gx = xmin + (np.arange(1, nb + 1) - 1) * w + 0.5 * w
            else:
                gx = edges[:-1] + 0.5 * (edges[1:] - edges[:-1])
            wf = (xmax - xmin) / PDF_NBINS
            c = xmin + (np.arange(1, PDF_NBINS + 1) - 1) * wf + 0.5 * wf
            y = _SPLINES[self.interpol](gx, smooth, c)
            low = y <= PDF_EPSILON  # spline at or below epsilon: the smoothed histogram's content
            if np.any(low):
                fb = find_bins(np.ascontiguousarray(c[low]), fixed, nb, xmin, xmax, edges)
                full = np.zeros(nb + 2)
                full[1 : nb + 1] = smooth
                y[low] = full[fb]
            y = np.where(y >= PDF_EPSILON, y, PDF_EPSILON)
            ref = y.astype(np.float32).astype(np.float64)  # TH1F
            rfixed, rnb, redges = True, PDF_NBINS, np.zeros(1)
        if self.normalize:
            integral = np.cumsum(ref)[-1] * ((xmax - xmin) / rnb)  # GetSumOfWeights * GetPdfHistBinWidth
            if integral < 0:
                raise InputDataError(f"PDF {self.name!r}: integral {integral} < 0")
            if integral > 0:
                ref = (1.0 / integral) * ref
                if self.interpol != 0 or self.float_storage:  # the fine histogram is a TH1F
                    ref = ref.astype(np.float32).astype(np.float64)
        content = np.zeros(rnb + 2)
        content[1 : rnb + 1] = ref
        self._table = (rfixed, rnb, xmin, xmax, redges, content)
        return self._table

    def get_val(self, x) -> np.ndarray:
        """PDF::GetVal for every value of ``x`` (float64 array, at least 1e-12)."""
        fixed, nb, xmin, xmax, edges, content = self.table()
        xs = np.ascontiguousarray(np.atleast_1d(np.asarray(x, np.float64)).ravel())
        out = np.empty(xs.shape[0])
        _get_val(xs, fixed, nb, xmin, xmax, edges, content, self.interpol == 0, out)
        return out

    def _low_edge(self, b: np.ndarray) -> np.ndarray:
        fixed, nb, xmin, xmax, edges, _ = self.table()
        w = (xmax - xmin) / nb
        fixed_edge = xmin + (b - 1) * w
        if fixed:
            return fixed_edge
        inside = (b >= 1) & (b <= nb)
        return np.where(inside, edges[np.clip(b - 1, 0, nb)], fixed_edge)

    def integral(self, lo: float, hi) -> np.ndarray:
        """PDF::GetIntegral(lo, hi) for every ``hi`` (manual integration over the reference histogram).

        As in TMVA, the first bin always counts from ``lo`` to its upper edge and the last bin up to
        ``hi`` (also beyond the axis), and nothing is counted when ``hi`` is below the axis.
        """
        fixed, nb, xmin, xmax, edges, content = self.table()
        his = np.atleast_1d(np.asarray(hi, np.float64)).ravel()
        f32 = np.float32
        imin = max(find_bin(float(lo), fixed, nb, xmin, xmax, edges), 1)
        bins = np.arange(nb + 2)
        if fixed:
            width = np.full(nb + 2, (xmax - xmin) / nb)
        else:
            width = np.zeros(nb + 2)
            width[1 : nb + 1] = np.diff(edges)
        dx = width.astype(f32).astype(np.float64)
        dx_first = float(f32(self._low_edge(np.array([imin + 1]))[0] - lo))
        if -1.0e-8 < dx_first < 0:
            dx_first = 0.0
        terms = content[bins] * dx
        terms[imin] = content[imin] * dx_first
        prefix = np.cumsum(terms[imin : nb + 1])  # prefix[k] = sum of bins imin..imin+k, in TMVA's order
        out = np.zeros(his.shape[0])
        imax = find_bins(np.ascontiguousarray(his), fixed, nb, xmin, xmax, edges)
        imax = np.minimum(imax, nb)
        one = imax == imin
        out[one] = terms[imin]
        more = imax > imin
        if more.any():
            k = imax[more]
            dlast = (his[more] - self._low_edge(k)).astype(f32).astype(np.float64)
            dlast = np.where((dlast < 0) & (dlast > -1.0e-8), 0.0, dlast)
            out[more] = prefix[k - 1 - imin] + content[k] * dlast
        out[np.isnan(his)] = np.nan
        return out

    def rarity(self, x) -> np.ndarray:
        """MethodBase::GetRarity: ``GetIntegral(GetXmin(), x)``."""
        return self.integral(self.xmin, x)

    def __repr__(self) -> str:
        return (
            f"PDF({self.name!r}, {self.contents.shape[0]} bins on [{self.xmin:g}, {self.xmax:g}], "
            f"InterpolMethod={self.interpol}, NSmooth={self.min_nsmooth}..{self.max_nsmooth})"
        )


def proba(sig: PDF, bkg: PDF, mva, ap_sig: float = 0.5) -> np.ndarray:
    """MethodBase::GetProba: ``p_S ap / (p_S ap + p_B (1 - ap))``, -1 where the denominator is not > 0.

    >>> s = PDF([1.0, 1.0, 1.0], xmin=0.0, xmax=3.0, interpol=0)
    >>> proba(s, s, [1.5]).tolist()
    [0.5]
    """
    ps, pb = sig.get_val(mva), bkg.get_val(mva)
    denom = ps * ap_sig + pb * (1 - ap_sig)
    with np.errstate(all="ignore"):
        return np.where(denom > 0, (ps * ap_sig) / denom, -1.0)


# ---------------------------------------------------------------------------------------------------------
# CreateMVAPdfs: settings and building
# ---------------------------------------------------------------------------------------------------------

MVA_PDF_SUFFIXES = ("MVAPdf", "MVAPdfBkg", "MVAPdfSig")
#: PDF::DeclareOptions: (name without suffix, type, default of the option-string constructor, allowed)
PDF_OPTION_DECLARATIONS: tuple[tuple[str, type, Any, tuple[str, ...]], ...] = (
    ("NSmooth", int, 0, ()),
    ("MinNSmooth", int, -1, ()),
    ("MaxNSmooth", int, -1, ()),
    ("NAvEvtPerBin", int, 50, ()),
    ("Nbins", int, 0, ()),
    ("CheckHist", bool, False, ()),
    ("PDFInterpol", str, "Spline2", tuple(INTERPOLATIONS)),
    ("KDEtype", str, "Gauss", ("Gauss",)),
    ("KDEiter", str, "Nonadaptive", ("Nonadaptive", "Adaptive")),
    ("KDEFineFactor", float, 1.0, ()),
    ("KDEborder", str, "None", ("None", "Renorm", "Mirror")),
)


@dataclass(frozen=True)
class PDFSettings:
    """One PDF's processed options (``PDF::ProcessOptions``)."""

    nsmooth: int = 0
    min_nsmooth: int = 0
    max_nsmooth: int = 0
    avg_events_per_bin: int = 50
    nbins: int = 0
    interpol: str = "Spline2"
    kde_type: str = "Gauss"
    kde_iter: str = "Nonadaptive"
    fine_factor: float = 1.0
    kde_border: str = "None"

    def hist_nbins(self, n_events: int) -> int:
        """PDF::GetHistNBins(evtNum) for a spline PDF."""
        if self.nbins > 0:
            return self.nbins
        if n_events > 0 and self.avg_events_per_bin > 0:
            return int(n_events) // int(self.avg_events_per_bin)
        raise OptionError(
            f"no number of bins for the MVA PDFs (Nbins={self.nbins}, "
            f"NAvEvtPerBin={self.avg_events_per_bin})",
            token="NAvEvtPerBinMVAPdf",
            expected=["NbinsMVAPdf > 0 or NAvEvtPerBinMVAPdf > 0"],
        )


def _process(s: PDFSettings, min_given: int, max_given: int, suffix: str) -> PDFSettings:
    nsmooth = max(s.nsmooth, 0)
    lo, hi = min_given, max_given
    if hi < 0 or lo < 0:
        lo = hi = nsmooth
    if hi < lo:
        raise OptionError(f"MaxNSmooth{suffix}={hi} < MinNSmooth{suffix}={lo} (TMVA aborts)",
                          token=f"MaxNSmooth{suffix}", expected=[f"MaxNSmooth{suffix} >= {lo}"])  # fmt: skip
    return replace(s, nsmooth=nsmooth, min_nsmooth=lo, max_nsmooth=hi)


def mva_pdf_settings(values: Mapping[str, Any]) -> tuple[PDFSettings, PDFSettings]:
    """(signal, background) settings from the given PDF options (``{"NbinsMVAPdf": 100, ...}``, names
    case-insensitive), as MethodBase::ProcessBaseOptions chains them: the ``MVAPdf`` options make the
    default PDF, whose processed settings the ``MVAPdfSig`` / ``MVAPdfBkg`` options then modify.

    >>> sig, bkg = mva_pdf_settings({"NsmoothMVAPdf": 3, "PDFInterpolMVAPdfBkg": "Spline3"})
    >>> (sig.min_nsmooth, sig.interpol), (bkg.max_nsmooth, bkg.interpol)
    ((3, 'Spline2'), (3, 'Spline3'))
    """
    low = {str(k).lower(): v for k, v in values.items()}
    fields = {"NSmooth": "nsmooth", "NAvEvtPerBin": "avg_events_per_bin", "Nbins": "nbins",
              "PDFInterpol": "interpol", "KDEtype": "kde_type", "KDEiter": "kde_iter",
              "KDEFineFactor": "fine_factor", "KDEborder": "kde_border"}  # fmt: skip

    def given(base: PDFSettings, suffix: str, lo: int, hi: int) -> tuple[PDFSettings, int, int]:
        upd = {}
        for opt, attr in fields.items():
            key = (opt + suffix).lower()
            if key in low:
                upd[attr] = low[key]
        lo = int(low.get(f"minnsmooth{suffix}".lower(), lo))
        hi = int(low.get(f"maxnsmooth{suffix}".lower(), hi))
        return replace(base, **upd), lo, hi

    default, lo, hi = given(PDFSettings(), "MVAPdf", -1, -1)
    default = _process(default, lo, hi, "MVAPdf")
    out = []
    for suffix in ("MVAPdfSig", "MVAPdfBkg"):
        s, lo2, hi2 = given(default, suffix, default.min_nsmooth, default.max_nsmooth)
        out.append(_process(s, lo2, hi2, suffix))
    for s in out:
        if s.interpol not in INTERPOLATIONS:
            raise OptionError(f"unknown PDF interpolation {s.interpol!r}", token=str(s.interpol),
                              expected=list(INTERPOLATIONS))  # fmt: skip
        if INTERPOLATIONS[s.interpol] not in _SUPPORTED:
            raise OptionError(
                f"PDFInterpol={s.interpol} for the MVA PDFs is not supported by tmvacompat",
                token=s.interpol,
                expected=["Spline0", "Spline1", "Spline2", "Spline3"],
            )
        if s.nbins <= 0 and s.avg_events_per_bin <= 0:  # known at booking: refuse it before training
            raise OptionError(
                f"no number of bins for the MVA PDFs (Nbins={s.nbins}, NAvEvtPerBin={s.avg_events_per_bin})",
                token="NAvEvtPerBinMVAPdf",
                expected=["NbinsMVAPdf > 0 or NAvEvtPerBinMVAPdf > 0"],
            )
    return out[0], out[1]


def build_mva_pdfs(
    values,
    weights,
    is_signal,
    title: str,
    method_type: str,
    sig: PDFSettings | None = None,
    bkg: PDFSettings | None = None,
) -> tuple[PDF, PDF]:
    """MethodBase::CreateMVAPdfs: signal and background PDFs of the training sample's classifier outputs.

    Both histograms (TH1D ``<type>_tr_S`` / ``_tr_B``) span [min, max] of all outputs (stored as float),
    with ``GetHistNBins(number of training events)`` bins; events are filled with their training weight
    (the one at the maximum lands in the overflow, as in TMVA), normalised by ``Tools::NormHist`` (unit
    area), then smoothed, interpolated and normalised by the PDFs.

    >>> v = np.linspace(-1, 1, 400)
    >>> s, b = build_mva_pdfs(v, np.ones(400), v > 0, "DL", "DL")
    >>> s.name, s.hist_name, s.contents.shape[0]
    ('DL_PDFSig', 'DL_tr_S_original', 8)
    """
    if sig is None or bkg is None:
        sig, bkg = mva_pdf_settings({})
    vals = np.asarray(values, np.float32).astype(np.float64).ravel()
    w = np.asarray(weights, np.float64).ravel()
    mask = np.asarray(is_signal, bool).ravel()
    if vals.shape[0] == 0 or not (vals.shape[0] == w.shape[0] == mask.shape[0]):
        raise InputDataError(
            f"CreateMVAPdfs needs one weight and class per classifier output "
            f"({vals.shape[0]} outputs, {w.shape[0]} weights, {mask.shape[0]} classes)"
        )
    lo, hi = float(vals.min()), float(vals.max())
    if not hi > lo:
        raise InputDataError(
            f"CreateMVAPdfs: every training event has the same classifier output ({lo}); the MVA PDFs "
            "need a range of outputs",
            token="CreateMVAPdfs",
        )
    pdfs = []
    for tag, cls_mask, st, suffix in ((f"{method_type}_tr_S", mask, sig, "Sig"),
                                       (f"{method_type}_tr_B", ~mask, bkg, "Bkg")):  # fmt: skip
        nb = max(st.hist_nbins(vals.shape[0]), 1)  # ROOT turns nbins <= 0 into 1
        b = find_bins(np.ascontiguousarray(vals[cls_mask]), True, nb, lo, hi, np.zeros(1))
        cont = np.zeros(nb + 2)
        sw2 = np.zeros(nb + 2)
        np.add.at(cont, b, w[cls_mask])
        np.add.at(sw2, b, w[cls_mask] ** 2)
        if not cls_mask.any():
            raise InputDataError(f"CreateMVAPdfs: no {'signal' if suffix == 'Sig' else 'background'} "
                                 "events in the training sample")  # fmt: skip
        total = np.cumsum(cont[1 : nb + 1])[-1]
        if total != 0:
            norm = total * (hi - lo) / nb  # Tools::NormHist: sum of weights * (xmax - xmin) / nbins
            if norm > 0:
                c1 = 1.0 / norm
                cont = c1 * cont
                sw2 = sw2 * (c1 * c1)
        pdfs.append(PDF(cont[1 : nb + 1], xmin=lo, xmax=hi, interpol=INTERPOLATIONS[st.interpol],
                        min_nsmooth=st.min_nsmooth, max_nsmooth=st.max_nsmooth, normalize=True,
                        float_storage=True, errors=np.sqrt(sw2[1 : nb + 1]), name=f"{title}_PDF{suffix}",
                        hist_name=f"{tag}_original", kde_type=1 if st.kde_type == "Gauss" else 0,
                        kde_iter=2 if st.kde_iter == "Adaptive" else 1,
                        kde_border={"None": 1, "Renorm": 2, "Mirror": 3}.get(st.kde_border, 1),
                        kde_finefactor=float(np.float32(st.fine_factor))))  # fmt: skip
    return pdfs[0], pdfs[1]


__all__ = [
    "PDF",
    "PDFSettings",
    "PDF_NBINS",
    "PDF_EPSILON",
    "INTERPOLATIONS",
    "MVA_PDF_SUFFIXES",
    "PDF_OPTION_DECLARATIONS",
    "build_mva_pdfs",
    "mva_pdf_settings",
    "proba",
    "smooth_array",
    "th1_smooth",
    "find_bin",
    "bin_center",
    "get_val_one",
]
