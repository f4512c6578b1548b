"""TMVA's PDF (tmvacompat.data.pdf), CreateMVAPdfs, ``<MVAPdfs>`` and Reader.GetProba / GetRarity.

Truths: real ROOT (TH1::SmoothArray, TH1F::Smooth, TGraph, TSpline3, TH1F) where PyROOT is installed;
closed forms (a spline through a line or a parabola reproduces it, a PDF integrates to one, the rarity of a
uniform PDF is linear, equal PDFs give a probability of 1/2); TMVA's documented option chaining.
"""

from __future__ import annotations

import os
import warnings
from xml.etree.ElementTree import fromstring

import numpy as np
import pytest

from tmvacompat.data.dataset import DataSet
from tmvacompat.data.pdf import (
    PDF,
    PDF_EPSILON,
    PDF_NBINS,
    build_mva_pdfs,
    mva_pdf_settings,
    proba,
    smooth_array,
    th1_smooth,
)
from tmvacompat.errors import OptionError, WeightFileError
from tmvacompat.methods.dl import MethodDL
from tmvacompat.reader import Reader
from tmvacompat.weightfile import load_weights
from tmvacompat.weightfile.transforms_xml import read_mva_pdfs, write_mva_pdfs

FAST = "TrainingStrategy=LearningRate=1e-2,BatchSize=32,MaxEpochs=6,ConvergenceSteps=8,TestRepetitions=1"


def _root():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("ROOT", reason="PyROOT (the 'root' package) is not installed")


# ---------------------------------------------------------------------------------------------------------
# smoothing and splines against real ROOT
# ---------------------------------------------------------------------------------------------------------


def test_smooth_array_matches_root():
    ROOT = _root()
    rng = np.random.default_rng(11)
    for trial in range(150):
        n = int(rng.integers(3, 30))
        x = rng.poisson(3, n).astype(float)
        if trial % 2:
            x = x + rng.normal(size=n)  # negative values: no clamping at 0
        ntimes = int(rng.integers(1, 4))
        ref = x.copy()
        ROOT.TH1.SmoothArray(n, ref, ntimes)
        mine = x.copy()
        smooth_array(mine, ntimes)
        np.testing.assert_array_equal(mine, ref)


def test_th1f_smooth_matches_root():
    ROOT = _root()
    rng = np.random.default_rng(5)
    for ntimes in (1, 2, 5):
        x = rng.exponential(2.0, 17)
        h = ROOT.TH1F(f"hs{ntimes}", "", 17, 0.0, 1.0)
        for i, v in enumerate(x):
            h.SetBinContent(i + 1, v)
        stored = np.array([h.GetBinContent(i + 1) for i in range(17)])
        h.Smooth(ntimes)
        ref = np.array([h.GetBinContent(i + 1) for i in range(17)])
        np.testing.assert_array_equal(th1_smooth(stored, ntimes, float_storage=True), ref)


def _root_pdf_hist(ROOT, contents, xmin, xmax, nsmooth, tag):
    """PDF::BuildSplinePDF for Spline3 with ROOT's own objects; returns the normalised fine histogram."""
    nb = len(contents)
    h = ROOT.TH1F(f"orig{tag}", "", nb, xmin, xmax)
    for i, v in enumerate(contents):
        h.SetBinContent(i + 1, v)
    if nsmooth > 0:
        h.Smooth(nsmooth)
    g = ROOT.TGraph(h)
    sp = ROOT.TSpline3(f"sp{tag}", g)
    fine = ROOT.TH1F(f"fine{tag}", "", PDF_NBINS, xmin, xmax)
    for b in range(1, PDF_NBINS + 1):
        x = fine.GetBinCenter(b)
        y = sp.Eval(x)
        if y <= PDF_EPSILON:
            y = h.GetBinContent(h.FindBin(x))
        fine.SetBinContent(b, max(y, PDF_EPSILON))
    integral = fine.GetSumOfWeights() * (xmax - xmin) / PDF_NBINS
    fine.Scale(1.0 / integral)
    return np.array([fine.GetBinContent(b) for b in range(1, PDF_NBINS + 1)])


@pytest.mark.parametrize("nsmooth", [0, 2])
def test_spline3_pdf_matches_root(nsmooth):
    ROOT = _root()
    rng = np.random.default_rng(3 + nsmooth)
    contents = np.histogram(rng.normal(size=3000), bins=24, range=(-3.0, 3.0))[0] / 3000.0
    ref = _root_pdf_hist(ROOT, contents, -3.0, 3.0, nsmooth, str(nsmooth))
    p = PDF(contents, xmin=-3.0, xmax=3.0, interpol=3, min_nsmooth=nsmooth, max_nsmooth=nsmooth)
    mine = p.table()[5][1 : PDF_NBINS + 1]
    np.testing.assert_allclose(mine, ref, rtol=2e-7, atol=0)
    # GetVal: linear interpolation between the fine bins' centres
    xs = np.array([-3.2, -2.9997, -1.234567, 0.0, 0.5001, 2.99999, 3.5])
    w = 6.0 / PDF_NBINS
    centres = -3.0 + (np.arange(PDF_NBINS) + 0.5) * w
    expect = np.maximum(np.interp(xs, centres, ref), PDF_EPSILON)
    inner = (xs > centres[0]) & (xs < centres[-1])
    np.testing.assert_allclose(p.get_val(xs)[inner], expect[inner], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------------------------


def test_spline2_and_spline1_reproduce_polynomials():
    xmin, xmax, nb = 0.0, 4.0, 16
    centres = xmin + (np.arange(nb) + 0.5) * (xmax - xmin) / nb
    parabola = 1.0 + 0.5 * (centres - 2.0) ** 2
    p2 = PDF(parabola, xmin=xmin, xmax=xmax, interpol=2, normalize=False)
    xs = np.linspace(0.4, 3.6, 41)
    np.testing.assert_allclose(p2.get_val(xs), 1.0 + 0.5 * (xs - 2.0) ** 2, rtol=2e-5)
    line = 0.2 + 0.3 * centres
    p1 = PDF(line, xmin=xmin, xmax=xmax, interpol=1, normalize=False)
    np.testing.assert_allclose(p1.get_val(xs), 0.2 + 0.3 * xs, rtol=1e-6)


@pytest.mark.parametrize("interpol", [0, 1, 2, 3])
def test_pdf_is_normalised_and_rarity_monotone(interpol):
    rng = np.random.default_rng(interpol)
    contents = np.histogram(rng.normal(size=2000), bins=20, range=(-4.0, 4.0))[0].astype(float)
    p = PDF(contents, xmin=-4.0, xmax=4.0, interpol=interpol, min_nsmooth=1, max_nsmooth=1)
    assert p.integral(-4.0, 4.0)[0] == pytest.approx(1.0, abs=1e-6)
    xs = np.linspace(-4.0, 4.0, 301)
    r = p.rarity(xs)
    assert np.all(np.diff(r) >= -1e-12) and r[-1] == pytest.approx(1.0, abs=1e-6)
    assert p.rarity([-4.5])[0] == 0.0
    assert np.all(p.get_val(xs) >= PDF_EPSILON)


def test_uniform_pdf_rarity_is_linear_and_proba_closed_form():
    flat = PDF(np.full(10, 3.0), xmin=1.0, xmax=3.0, interpol=0)
    xs = np.linspace(1.3, 3.0, 12)  # beyond the first bin, whose whole width TMVA always counts
    np.testing.assert_allclose(flat.rarity(xs), (xs - 1.0) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(flat.get_val(xs), 0.5, rtol=1e-7)
    ramp = PDF(np.arange(1.0, 11.0), xmin=1.0, xmax=3.0, interpol=1)
    np.testing.assert_allclose(proba(flat, flat, xs, 0.5), 0.5)
    ps, pb = ramp.get_val(xs), flat.get_val(xs)
    for ap in (0.1, 0.5, 0.9):
        np.testing.assert_allclose(proba(ramp, flat, xs, ap), ps * ap / (ps * ap + pb * (1 - ap)))


# ---------------------------------------------------------------------------------------------------------
# CreateMVAPdfs: options and histograms
# ---------------------------------------------------------------------------------------------------------


def test_mva_pdf_option_chaining():
    sig, bkg = mva_pdf_settings({})
    assert (sig.interpol, sig.min_nsmooth, sig.max_nsmooth, sig.avg_events_per_bin) == ("Spline2", 0, 0, 50)
    sig, bkg = mva_pdf_settings({"NsmoothMVAPdf": 10, "NbinsMVAPdf": 50, "PDFInterpolMVAPdfBkg": "Spline3"})
    assert (sig.min_nsmooth, sig.max_nsmooth, sig.nbins, sig.interpol) == (10, 10, 50, "Spline2")
    assert (bkg.min_nsmooth, bkg.nbins, bkg.interpol) == (10, 50, "Spline3")
    # the per-PDF NSmooth does not reset Min/Max already taken from the default PDF (ProcessOptions)
    sig, _ = mva_pdf_settings({"NSmoothMVAPdfSig": 4})
    assert (sig.nsmooth, sig.min_nsmooth, sig.max_nsmooth) == (4, 0, 0)
    sig, _ = mva_pdf_settings({"MinNSmoothMVAPdf": 1, "MaxNSmoothMVAPdf": 3})
    assert (sig.min_nsmooth, sig.max_nsmooth) == (1, 3)
    with pytest.raises(OptionError):
        mva_pdf_settings({"MinNSmoothMVAPdf": 4, "MaxNSmoothMVAPdf": 2})
    with pytest.raises(OptionError, match="not supported"):
        mva_pdf_settings({"PDFInterpolMVAPdf": "KDE"})
    with pytest.raises(OptionError, match="CreateMVAPdfs"):
        MethodDL("X", "NbinsMVAPdf=20:Layout=TANH|4,LINEAR")
    m = MethodDL("X", "CreateMVAPdfs:NbinsMVAPdf=20:PDFInterpolMVAPdf=Spline1:Layout=TANH|4,LINEAR")
    assert m.mva_pdf_settings[0].interpol == "Spline1"
    names = [name for name, _, _ in m.xml_options()]
    assert "CreateMVAPdfs" in names
    assert not any(n.endswith(("MVAPdf", "MVAPdfSig", "MVAPdfBkg")) for n in names)


def test_build_mva_pdfs_histograms():
    rng = np.random.default_rng(8)
    v = rng.normal(size=1000).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 1000)
    sig_mask = rng.random(1000) < 0.4
    s, b = build_mva_pdfs(v, w, sig_mask, "MyDL", "DL")
    assert (s.name, b.name, s.hist_name, b.hist_name) == ("MyDL_PDFSig", "MyDL_PDFBkg", "DL_tr_S_original",
                                                          "DL_tr_B_original")  # fmt: skip
    assert s.contents.shape == (20,) and (s.xmin, s.xmax) == (float(v.min()), float(v.max()))
    nb, width = 20, (float(v.max()) - float(v.min())) / 20
    edges = float(v.min()) + np.arange(nb + 1) * width
    for pdf, m in ((s, sig_mask), (b, ~sig_mask)):
        inside = v[m] < v.max()  # the maximum lands in the overflow bin, as TH1::Fill puts it there
        counts = np.histogram(v[m][inside].astype(float), bins=edges, weights=w[m][inside])[0]
        np.testing.assert_allclose(pdf.contents, counts / (counts.sum() * width), rtol=1e-12)
        assert pdf.integral(pdf.xmin, pdf.xmax)[0] == pytest.approx(1.0, abs=1e-6)


def test_build_mva_pdfs_histograms_match_root_th1d():
    ROOT = _root()
    rng = np.random.default_rng(4)
    v = rng.normal(size=500).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 500)
    sig_mask = rng.random(500) < 0.5
    pdfs = build_mva_pdfs(v, w, sig_mask, "DL", "DL")
    lo, hi = float(v.min()), float(v.max())
    for pdf, m, tag in ((pdfs[0], sig_mask, "S"), (pdfs[1], ~sig_mask, "B")):
        h = ROOT.TH1D(f"DL_tr_{tag}_test", "", 10, lo, hi)
        h.Sumw2()
        for x, wx in zip(v[m], w[m], strict=True):
            h.Fill(float(x), float(wx))
        h.Scale(1.0 / (h.GetSumOfWeights() * (hi - lo) / 10))  # Tools::NormHist
        np.testing.assert_array_equal(pdf.contents, [h.GetBinContent(i) for i in range(1, 11)])
        np.testing.assert_allclose(pdf.errors, [h.GetBinError(i) for i in range(1, 11)], rtol=1e-14)


def test_per_bin_smoothing_keeps_a_normalised_pdf():
    rng = np.random.default_rng(6)
    counts = np.histogram(rng.normal(size=400), bins=30, range=(-3.0, 3.0))[0].astype(float)
    p = PDF(counts, xmin=-3.0, xmax=3.0, interpol=2, min_nsmooth=1, max_nsmooth=4)
    smooth_once = PDF(counts, xmin=-3.0, xmax=3.0, interpol=2, min_nsmooth=1, max_nsmooth=1)
    assert np.all(np.isfinite(p.smoothed())) and not np.array_equal(p.smoothed(), smooth_once.smoothed())
    assert p.integral(-3.0, 3.0)[0] == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------------------
# XML
# ---------------------------------------------------------------------------------------------------------


def test_mvapdfs_xml_round_trip_and_format():
    rng = np.random.default_rng(1)
    v = rng.normal(size=600)
    s, b = build_mva_pdfs(v, np.ones(600), v > 0.2, "DL", "DL")
    el = write_mva_pdfs((s, b), precision="tmva")
    pdf = el.find("PDF")
    assert list(pdf.attrib) == ["Name", "MinNSmooth", "MaxNSmooth", "InterpolMethod", "KDE_type", "KDE_iter",
                                "KDE_border", "KDE_finefactor"]  # fmt: skip
    assert pdf.get("InterpolMethod") == "2" and pdf.get("KDE_type") == "1"
    assert pdf.get("KDE_finefactor") == "1.0000000000000000e+00"
    hist = pdf.find("Histogram")
    assert hist.get("HasEquidistantBins") == "1" and hist.get("NBins") == "12"
    assert hist.text.split()[0] == format(s.contents[0], ".8e")
    xs = np.linspace(v.min() - 0.5, v.max() + 0.5, 97)
    for precision in ("lossless", "tmva"):
        rs, rb = read_mva_pdfs(write_mva_pdfs((s, b), precision=precision))
        tol = 0 if precision == "lossless" else 1e-7
        np.testing.assert_allclose(rs.get_val(xs), s.get_val(xs), rtol=tol)
        np.testing.assert_allclose(rb.rarity(xs), b.rarity(xs), rtol=tol, atol=tol)
    assert read_mva_pdfs(fromstring("<MVAPdfs/>")) is None
    with pytest.raises(WeightFileError):
        read_mva_pdfs(fromstring("<MVAPdfs><PDF/></MVAPdfs>"))


# ---------------------------------------------------------------------------------------------------------
# a trained model, its weight file and the Reader
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 700
    y = (rng.random(n) < 0.5).astype(int)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 0, 0.8, -0.8)
    ds = DataSet.from_arrays(X[:500], y[:500], X[500:], y[500:], class_names=["Signal", "Background"])
    path = str(tmp_path_factory.mktemp("pdfs") / "TMVAClassification_DL.weights.xml")
    m = MethodDL("DL", f"!H:!V:CreateMVAPdfs:NbinsMVAPdf=25:NsmoothMVAPdf=1:RandomSeed=2:"
                       f"Layout=TANH|8,LINEAR:{FAST}")  # fmt: skip
    model = m.train(ds, weight_file=path)
    return ds, model, path


def test_weight_file_with_mvapdfs_round_trips(trained):
    ds, model, path = trained
    assert model.mva_pdfs is not None
    back = load_weights(path)
    mva = model.evaluate(ds.test.X)
    np.testing.assert_array_equal(back.proba(mva), model.proba(mva))
    np.testing.assert_array_equal(back.rarity(mva), model.rarity(mva))
    text = open(path).read()
    assert text.count("<PDF ") == 2 and 'Name="DL_PDFSig"' in text and "NbinsMVAPdf" not in text
    assert back.to_xml() == text  # the read <MVAPdfs> is written back verbatim
    out = os.path.join(os.path.dirname(path), "tmva.xml")
    back.mva_pdfs = tuple(back.mva_pdfs)  # no longer the element read: written anew
    back.save(out, precision="tmva")
    again = load_weights(out)
    np.testing.assert_allclose(again.proba(mva), model.proba(mva), rtol=1e-6)


def test_reader_getproba_getrarity(trained):
    ds, model, path = trained
    v1, v2 = np.zeros(1, np.float32), np.zeros(1, np.float32)
    reader = Reader("!Silent")
    reader.AddVariable(ds.variables[0].expression, v1)
    reader.AddVariable(ds.variables[1].expression, v2)
    reader.BookMVA("DL", path)
    mva = model.evaluate(ds.test.X[:20])
    for i in range(5):
        v1[0], v2[0] = ds.test.X[i]
        assert reader.GetProba("DL") == pytest.approx(float(model.proba(mva[i : i + 1])[0]), abs=1e-12)
        assert reader.GetProba("DL", 0.2) == pytest.approx(float(model.proba(mva[i : i + 1], 0.2)[0]))
        assert reader.GetRarity("DL") == pytest.approx(float(model.rarity(mva[i : i + 1])[0]), abs=1e-12)
    np.testing.assert_array_equal(reader.GetProba("DL", 0.5, mva), model.proba(mva))
    assert reader.GetRarity("DL", float(mva[3])) == float(model.rarity(mva[3:4])[0])
    sig, bkg = model.mva_pdfs
    assert 0.0 <= reader.GetProba("DL", 0.5, 0.5 * (bkg.xmin + bkg.xmax)) <= 1.0
    v1[0] = np.nan
    assert reader.GetProba("DL") == -999.0 and reader.GetRarity("DL") == -999.0


def test_no_pdfs_is_a_clear_error(trained, tmp_path):
    ds, _, _ = trained
    m = MethodDL("Plain", f"!H:!V:RandomSeed=2:Layout=TANH|4,LINEAR:{FAST}")
    path = str(tmp_path / "plain.weights.xml")
    model = m.train(ds, weight_file=path)
    assert model.mva_pdfs is None and "<MVAPdfs/>" in open(path).read()
    reader = Reader("!Silent")
    reader.BookMVA("Plain", path)
    with pytest.raises(WeightFileError, match="CreateMVAPdfs"):
        reader.GetProba("Plain", 0.5, 0.3)
    with pytest.raises(WeightFileError, match="CreateMVAPdfs"):
        reader.GetRarity("Plain", 0.3)


def test_root_parses_the_written_mvapdfs(trained):
    ROOT = _root()
    _, model, path = trained
    xml = ROOT.TXMLEngine()
    doc = xml.ParseFile(path)
    assert doc
    node = xml.GetChild(xml.DocGetRootElement(doc))
    while node and xml.GetNodeName(node) != "MVAPdfs":
        node = xml.GetNext(node)
    pdf = xml.GetChild(node)
    assert xml.GetAttr(pdf, "Name") == "DL_PDFSig"
    hist = xml.GetChild(pdf)
    values = np.array(str(xml.GetNodeContent(hist)).split(), float)
    np.testing.assert_array_equal(values, model.mva_pdfs[0].contents)
    assert int(xml.GetAttr(hist, "NBins")) == values.shape[0]
    xml.FreeDoc(doc)
