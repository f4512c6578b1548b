"""Tests of the variable transformations (data.transforms) and their XML (weightfile.transforms_xml).

Truths used: the real TMVA weight files and TrainTree in ../shared/vectors, closed forms (normalisation,
C^(-1/2), Gaussian quantiles), scipy (erfinv), numpy re-computations (covariances, eigenvalues).
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

import numpy as np
import pytest
from conftest import VECTORS
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.data.transforms import (
    TRANSFORM_ALIASES,
    CumulativePDF,
    DecorrelateTransform,
    GaussTransform,
    InputRef,
    NormalizeTransform,
    PCATransform,
    TransformChain,
    _smooth_array,
    parse_var_transform,
)
from tmvacompat.errors import InputDataError, OptionError, WeightFileError
from tmvacompat.weightfile.transforms_xml import read_transformations, write_transformations

MULTI_DL = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml"
MULTI_ROOT = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root"
MLP3 = VECTORS / "adropulic_June_July_2019" / "TMVAClassification_MLP_3.weights.xml"
GAUSS_DNN = VECTORS / "adropulic_June_July_2019" / "TMVAClassification_DNN.weights.xml"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"TMVA test vector {path} not available (expected ../shared/vectors beside the checkout)")
    return path


def _load(path: Path):
    import defusedxml.ElementTree as ET

    root = ET.parse(_need(path)).getroot()
    variables = [(v.get("Label"), v.get("Expression")) for v in root.find("Variables")]
    return root, root.find("Transformations"), variables


def _all_weight_files() -> list[Path]:
    return sorted(VECTORS.glob("*/*.weights.xml")) if VECTORS.exists() else []


def _structure(el: Element, prefix: str = "") -> list[tuple[str, tuple[str, ...]]]:
    path = f"{prefix}/{el.tag}"
    out = [(path, tuple(el.attrib))]
    for ch in el:
        out += _structure(ch, path)
    return out


def _same_chain(a: TransformChain, b: TransformChain) -> None:
    assert len(a) == len(b)
    for ta, tb in zip(a.transforms, b.transforms, strict=True):
        assert type(ta) is type(tb)
        assert ta.inputs == tb.inputs and ta.outputs == tb.outputs
        pa, pb = ta.params(), tb.params()
        assert pa.keys() == pb.keys()
        for k in pa:
            if isinstance(pa[k], list):
                for ra, rb in zip(pa[k], pb[k], strict=True):
                    for xa, xb in zip(ra, rb, strict=True):
                        assert (xa is None and xb is None) or np.array_equal(xa, xb)
            else:
                assert np.array_equal(pa[k], pb[k]), k


# ---------------------------------------------------------------------------------------------------------
# VarTransform grammar
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("N", [("Normalize", ("_V_", "_T_"), None)]),
        ("G", [("Gauss", ("_V_",), None)]),
        ("D", [("Decorrelate", ("_V_",), None)]),
        ("Decorrelate", [("Decorrelate", ("_V_",), None)]),
        ("I", [("Identity", ("_V_",), None)]),
        ("U", [("Uniform", ("_V_", "_T_"), None)]),
        ("P", [("PCA", ("_V_",), None)]),
        ("D,G", [("Decorrelate", ("_V_",), None), ("Gauss", ("_V_",), None)]),
        ("D+G", [("Decorrelate", ("_V_",), None), ("Gauss", ("_V_",), None)]),
        ("N_Signal", [("Normalize", ("_V_", "_T_"), "Signal")]),
        ("N_AllClasses", [("Normalize", ("_V_", "_T_"), None)]),
        ("N(var1,var2)", [("Normalize", ("var1", "var2"), None)]),
        ("N(var1,var2)_Background,Gauss(_V0_)", [("Normalize", ("var1", "var2"), "Background"),
                                                  ("Gauss", ("_V0_",), None)]),
        ("Norm,Normalise,Deco,Ident,Uniform", [("Normalize", ("_V_", "_T_"), None),
                                              ("Normalize", ("_V_", "_T_"), None),
                                              ("Decorrelate", ("_V_",), None), ("Identity", ("_V_",), None),
                                              ("Uniform", ("_V_", "_T_"), None)]),
        ("None", []),
        ("", []),
    ],
)  # fmt: skip
def test_parse_var_transform(text, expected):
    got = [(i.name, i.selection, i.class_name) for i in parse_var_transform(text)]
    assert got == expected


def test_parse_positions_and_explicit_selection():
    items = parse_var_transform("D,N(var1)")
    assert [i.position for i in items] == [0, 2]
    assert [i.explicit_selection for i in items] == [False, True]


def test_parse_every_vartransform_in_the_vectors():
    """Each file's VarTransform option parses to the transformations its <Transformations> block holds."""
    files = _all_weight_files()
    if not files:
        pytest.skip("TMVA test vectors not available")
    xml_name = {"Normalize": "Normalize", "Decorrelate": "Decorrelation", "Gauss": "Gauss", "PCA": "PCA"}
    seen = set()
    for f in files:
        root, el, _ = _load(f)
        opt = [o.text for o in root.find("Options") if o.get("name") == "VarTransform"]
        if not opt:
            continue
        seen.add(opt[0])
        names = [xml_name[i.name] for i in parse_var_transform(opt[0])]
        assert names == [t.get("Name") for t in el], f.name
    assert {"N", "G", "Decorrelate", "None"} <= seen


@pytest.mark.parametrize(
    "text, token, position",
    [("X", "X", 0), ("N,Q", "Q", 2), ("Gaus", "Gaus", 0), ("N(var1", "N(var1", 1), ("N)", "N)", 1),
     ("_Signal", "Signal", 0)],
)  # fmt: skip
def test_parse_garbage_raises_option_error(text, token, position):
    with pytest.raises(OptionError) as info:
        parse_var_transform(text)
    err = info.value
    assert err.token == token
    assert err.position == position
    if text in ("X", "N,Q", "Gaus"):
        assert "Normalize" in err.expected and "Gauss" in str(err)
    if text == "Gaus":
        assert "did you mean 'Gauss'" in str(err)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(sorted(TRANSFORM_ALIASES)), min_size=1, max_size=5),
       st.lists(st.sampled_from([",", "+"]), min_size=4, max_size=4))  # fmt: skip
def test_parse_alias_property(names, seps):
    text = names[0] + "".join(s + n for s, n in zip(seps, names[1:], strict=False))
    assert [i.name for i in parse_var_transform(text)] == [TRANSFORM_ALIASES[n] for n in names]


# ---------------------------------------------------------------------------------------------------------
# Normalize
# ---------------------------------------------------------------------------------------------------------


def test_normalize_real_file_closed_form():
    root, el, variables = _load(MULTI_DL)
    chain = read_transformations(el, str(MULTI_DL), variables=variables)
    (t,) = chain.transforms
    assert isinstance(t, NormalizeTransform) and t.n_sets == 5  # 4 classes + all classes
    ranges = {}
    for cl in el.find("Transform").findall("Class"):
        ranges[int(cl.get("ClassIndex"))] = [
            (float(r.get("Min")), float(r.get("Max"))) for r in cl.iter("Range")
        ]
    lo = np.array([m for m, _ in ranges[4]])
    hi = np.array([m for _, m in ranges[4]])
    # the all-classes entry is the envelope of the per-class ranges
    assert np.array_equal(lo, np.min([[m for m, _ in ranges[c]] for c in range(4)], axis=0))
    assert np.array_equal(hi, np.max([[m for _, m in ranges[c]] for c in range(4)], axis=0))
    x = np.random.default_rng(3).uniform(-4, 4, size=(200, 4)).astype(np.float32)
    expect = 2 * (x.astype(np.float64) - lo) / (hi - lo) - 1
    np.testing.assert_allclose(chain.forward(x), expect, atol=2e-6)
    lo1 = np.array([m for m, _ in ranges[1]])
    hi1 = np.array([m for _, m in ranges[1]])
    np.testing.assert_allclose(chain.forward(x, cls=1), 2 * (x - lo1) / (hi1 - lo1) - 1, atol=2e-6)
    # single event equals the batch row
    assert np.array_equal(chain.forward(x[7]), chain.forward(x)[7])


def test_normalize_fit_reproduces_tmva_ranges_from_train_tree():
    uproot = pytest.importorskip("uproot")
    _, el, variables = _load(MULTI_DL)
    with uproot.open(_need(MULTI_ROOT)) as f:
        a = f["dataset/TrainTree"].arrays(["classID", "var1", "var2", "var3", "var4"], library="np")
    x = np.column_stack([a[f"var{i}"] for i in range(1, 5)])
    fitted = TransformChain.fit(x, a["classID"], n_classes=4, items="N", variables=[v[0] for v in variables])
    stored = read_transformations(el, variables=variables)
    _same_chain(fitted, stored)  # bit-identical min/max per class and for all classes


def test_normalize_feeds_tmva_network_to_its_recorded_outputs():
    """Normalize (all-classes ranges) + a plain numpy pass over the DL weights reproduces TMVA's TestTree."""
    uproot = pytest.importorskip("uproot")
    root, el, variables = _load(MULTI_DL)
    with uproot.open(_need(MULTI_ROOT)) as f:
        a = f["dataset/TestTree"].arrays(["var1", "var2", "var3", "var4", "DL_CPU"], library="np")
    x = np.column_stack([a[f"var{i}"] for i in range(1, 5)])
    truth = np.column_stack([a["DL_CPU"][k] for k in ("Signal", "bg0", "bg1", "bg2")])
    chain = read_transformations(el, str(MULTI_DL), variables=variables)

    def net(h):
        h = h.astype(np.float64)
        for layer in root.find("Weights"):
            w = layer.find("Weights")
            h = h @ np.array(w.text.split(), float).reshape(int(w.get("Rows")), -1).T
            h = h + np.array(layer.find("Biases").text.split(), float)
            if layer.get("ActivationFunction") == "3":
                h = np.tanh(h)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(net(chain.forward(x)), truth, atol=1e-5)
    assert np.abs(net(chain.forward(x, cls=0)) - truth).max() > 1e-3  # the per-class ranges would be wrong


def test_normalize_fit_matches_numpy_and_round_trips_targets():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    cid = rng.integers(0, 2, 300)
    t = (rng.normal(size=(300, 2)) * 50 + 10).astype(np.float32)
    chain = TransformChain.fit(x, cid, targets=t, n_classes=2, items="N")
    (tr,) = chain.transforms
    assert [r.kind for r in tr.inputs] == ["Variable"] * 3 + ["Target"] * 2
    full = np.column_stack([x, t])
    for k in range(2):
        np.testing.assert_array_equal(tr.mins[k], full[cid == k].min(axis=0))
        np.testing.assert_array_equal(tr.maxs[k], full[cid == k].max(axis=0))
    np.testing.assert_array_equal(tr.mins[2], full.min(axis=0))
    y = chain.forward(x)
    assert y.dtype == np.float32 and y.min() == -1.0 and y.max() == 1.0
    tt = chain.forward_targets(t)
    np.testing.assert_allclose(tt, 2 * (t - t.min(0)) / (t.max(0) - t.min(0)) - 1, atol=1e-6)
    np.testing.assert_allclose(chain.inverse_targets(tt), t, rtol=1e-5, atol=1e-4)


def test_normalize_reference_class_suffix():
    x = np.array([[0.0], [1.0], [10.0], [20.0]], np.float32)
    chain = TransformChain.fit(x, [0, 0, 1, 1], n_classes=2, items="N_Signal", variables=["x"])
    np.testing.assert_allclose(chain.forward([[0.5]]), [[0.0]])  # signal range [0, 1]
    np.testing.assert_allclose(chain.forward([[0.5]], cls=-1), [[-0.95]], rtol=1e-6)  # all classes [0, 20]
    with pytest.raises(OptionError) as info:
        TransformChain.fit(x, [0, 0, 1, 1], n_classes=2, items="N_Sgnal")
    assert "Signal" in info.value.expected


# ---------------------------------------------------------------------------------------------------------
# Decorrelate
# ---------------------------------------------------------------------------------------------------------


def test_decorrelate_fit_whitens_weighted_data():
    rng = np.random.default_rng(11)
    a = np.array([[2.0, 0.0, 0.0], [1.5, 1.0, 0.0], [-0.5, 0.8, 0.3]])
    x = (rng.normal(size=(4000, 3)) @ a.T + [1, -2, 3]).astype(np.float32)
    cid = (rng.uniform(size=4000) < 0.4).astype(int)
    w = rng.uniform(0.5, 1.5, 4000).astype(np.float32)
    chain = TransformChain.fit(x, cid, weights=w, n_classes=2, items="D")
    (t,) = chain.transforms
    assert isinstance(t, DecorrelateTransform) and t.n_sets == 3
    for k, m in enumerate([cid == 0, cid == 1, np.ones(4000, bool)]):
        cov = np.cov(x[m].astype(np.float64).T, aweights=w[m], bias=True)
        np.testing.assert_allclose(t.matrices[k] @ cov @ t.matrices[k].T, np.eye(3), atol=1e-9)
        np.testing.assert_allclose(t.matrices[k], t.matrices[k].T, atol=1e-12)
    y = chain.forward(x).astype(np.float64)
    np.testing.assert_allclose(np.cov(y.T, aweights=w, bias=True), np.eye(3), atol=1e-5)
    with pytest.raises(OptionError):
        TransformChain.fit(x, cid, targets=x[:, :1], n_classes=2, items="D(_T_)")


def test_decorrelate_real_file():
    _, el, variables = _load(MLP3)
    chain = read_transformations(el, str(MLP3), variables=variables)
    (t,) = chain.transforms
    assert isinstance(t, DecorrelateTransform) and t.matrices.shape == (3, 5, 5)
    m = t.matrices
    np.testing.assert_allclose(m, np.transpose(m, (0, 2, 1)), rtol=0, atol=1e-16)  # symmetric
    cov = [np.linalg.inv(mk @ mk) for mk in m]  # M = C^(-1/2)
    assert all(np.all(np.linalg.eigvalsh(c) > 0) for c in cov)
    # all-classes covariance = mixture of the class covariances + a rank-1 between-class term (p = 1/2,
    # TMVA's equal class normalisation)
    d = cov[2] - 0.5 * cov[0] - 0.5 * cov[1]
    ev = np.sort(np.abs(np.linalg.eigvalsh(d)))
    assert ev[-2] < 1e-10 * ev[-1]
    x = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32) * 20
    np.testing.assert_allclose(chain.forward(x), x.astype(np.float64) @ m[2].T, rtol=1e-6, atol=1e-6)
    with pytest.raises(OptionError):
        t.apply_inverse(x, -1, np.arange(5))


# ---------------------------------------------------------------------------------------------------------
# Gauss / Uniform
# ---------------------------------------------------------------------------------------------------------


def test_gauss_output_matches_scipy_erfinv_for_a_known_cdf():
    """A linear cumulative histogram (uniform distribution on [0, 1]) has the closed form c(x) = x."""
    special = pytest.importorskip("scipy.special")
    nb = 50
    edges = np.linspace(0.0, 1.0, nb + 1)
    centres = edges[:-1] + 0.5 * np.diff(edges)
    pdf = CumulativePDF(centres.astype(np.float32), edges)
    x = np.linspace(0.011, 0.989, 997)
    c = pdf.cumulant_to_output(x, gauss=False)
    np.testing.assert_allclose(c, x, rtol=2e-6)
    g = pdf.cumulant_to_output(x, gauss=True)
    np.testing.assert_allclose(
        g, 1.414213562 * special.erfinv(2 * c.astype(np.float64) - 1), rtol=2e-6, atol=1e-7
    )
    # far tails: the cumulant is clamped to [1e-9, 1 - 1e-9], then erfinv's argument to +-0.99999999
    t = pdf.cumulant_to_output(np.array([-5.0, 6.0]), gauss=True)
    cap = 1.414213562 * special.erfinv(0.99999999)
    np.testing.assert_allclose(t, [-cap, cap], rtol=1e-6)
    u = pdf.cumulant_to_output(np.array([-5.0, 6.0]), gauss=False)
    np.testing.assert_array_equal(u, np.float32([1e-9, 1 - 1e-9]))
    # the inverse (regression targets) goes back through the same table
    np.testing.assert_allclose(pdf.inverse(g.astype(np.float64), gauss=True), x, atol=2e-4)


def test_smooth_array_preserves_linear_and_constant_sequences():
    lin = np.arange(12, dtype=np.float64) * 0.5 + 3
    out = lin.copy()
    _smooth_array(out)
    np.testing.assert_allclose(out, lin, atol=1e-12)
    const = np.full(7, 4.0)
    _smooth_array(const)
    np.testing.assert_allclose(const, 4.0)
    spike = np.array([1.0, 1, 1, 9, 1, 1, 1, 1])  # 353QH removes an isolated spike
    _smooth_array(spike)
    np.testing.assert_allclose(spike, 1.0, atol=1e-12)


def test_gauss_real_file_median_monotone_and_clamp():
    special = pytest.importorskip("scipy.special")
    _, el, variables = _load(GAUSS_DNN)
    chain = read_transformations(el, str(GAUSS_DNN), variables=variables)
    (t,) = chain.transforms
    assert isinstance(t, GaussTransform) and not t.flat and t.n_sets == 3
    for iv in range(5):
        p = t.pdfs[iv][-1]
        centres = p.edges[:-1] + 0.5 * np.diff(p.edges)
        cum = p.contents.astype(np.float64)
        xs = np.linspace(p.edges[0] - 5, p.edges[-1] + 5, 3001).astype(np.float32)
        batch = np.zeros((xs.size, 5), np.float32)
        batch[:, iv] = xs
        y = chain.forward(batch)[:, iv]
        assert np.all(np.diff(y) >= 0)  # monotone
        median = np.interp(0.5, cum, centres)
        row = np.zeros(5, np.float32)
        row[iv] = median
        assert abs(chain.forward(row)[iv]) < 0.02
        # independent evaluation: straight linear interpolation of the cumulative histogram
        inside = (xs > centres[0]) & (xs < centres[-1])
        ref = np.sqrt(2) * special.erfinv(2 * np.clip(np.interp(xs, centres, cum), 1e-9, 1 - 1e-9) - 1)
        np.testing.assert_allclose(y[inside], ref[inside], atol=0.02)
        # far outside the histogram: TMVA clamps the argument of erfinv to +-0.99999999
        cap = 1.414213562 * special.erfinv(0.99999999)
        np.testing.assert_allclose([y[0], y[-1]], [-cap, cap], rtol=1e-6)


def test_gauss_and_uniform_fit_on_data():
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(2.0, 3.0, 6000), rng.exponential(1.5, 6000)]).astype(np.float32)
    cid = rng.integers(0, 2, 6000)
    g = TransformChain.fit(x, cid, n_classes=2, items="G")
    y = g.forward(x)
    for j in range(2):
        q = np.quantile(y[:, j], [0.1587, 0.5, 0.8413])
        np.testing.assert_allclose(q, [-1, 0, 1], atol=0.06)
    fresh = np.column_stack([rng.normal(2.0, 3.0, 6000), rng.exponential(1.5, 6000)]).astype(np.float32)
    np.testing.assert_allclose(np.std(g.forward(fresh), axis=0), 1.0, atol=0.06)
    u = TransformChain.fit(x, cid, n_classes=2, items="U")
    (tu,) = u.transforms
    assert tu.flat
    yu = u.forward(fresh)
    assert yu.min() >= np.float32(1e-9) and yu.max() <= np.float32(1 - 1e-9)  # TMVA's clamp
    np.testing.assert_allclose(
        np.quantile(yu, [0.25, 0.5, 0.75], axis=0).T, [[0.25, 0.5, 0.75]] * 2, atol=0.03
    )
    # inverse (used for regression targets) undoes the forward map up to the binning resolution
    back = tu.apply_inverse(yu[:200], -1, np.arange(2))
    np.testing.assert_allclose(back, fresh[:200], atol=0.25)


def test_gauss_binning_follows_tmva_rules():
    # 2000 unit-weight events: sumPerBin = max(10*minWeight, 2000/2000) = 10 -> 10 events per bin
    x = np.arange(2000, dtype=np.float32)[:, None]
    chain = TransformChain.fit(x, items="G")
    (p,) = chain.transforms[0].pdfs[0]
    assert p.edges[0] == np.float32(0) - np.float32(1e-4) and p.edges[1] == 0
    np.testing.assert_array_equal(p.edges[2:], np.arange(9, 2000, 10))
    assert p.contents[-1] == 1.0 and np.all(np.diff(p.contents) >= 0)


# ---------------------------------------------------------------------------------------------------------
# PCA
# ---------------------------------------------------------------------------------------------------------


def test_pca_fit_decorrelates_with_descending_variance():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(3000, 3)) @ np.array([[3, 1, 0], [0, 1, 0.5], [0, 0, 0.2]])).astype(np.float32)
    cid = rng.integers(0, 2, 3000)
    chain = TransformChain.fit(x, cid, n_classes=2, items="P")
    (t,) = chain.transforms
    assert isinstance(t, PCATransform) and t.n_sets == 3
    y = chain.forward(x).astype(np.float64)
    cov = np.cov(y.T, bias=True)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0, atol=1e-4)
    var = np.diag(cov)
    assert var[0] > var[1] > var[2]
    eig = np.linalg.eigvalsh(np.cov(x.astype(np.float64).T, bias=True))
    np.testing.assert_allclose(var, np.sort(eig)[::-1], rtol=1e-5)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    back = read_transformations(write_transformations(chain), variables=chain.variables)
    _same_chain(chain, back)
    approx = read_transformations(write_transformations(chain, "tmva"), variables=chain.variables)
    np.testing.assert_allclose(approx.forward(x), chain.forward(x), rtol=1e-6, atol=1e-5)


def _root_pca(ROOT, x32: np.ndarray):
    """VariablePCATransform's fit in real ROOT: TPrincipal(nvar, "") fed the float events as doubles."""
    n = x32.shape[1]
    p = ROOT.TPrincipal(n, "")
    for row in x32.astype(np.float64):
        p.AddRow(row)
    p.MakePrincipals()
    m, e = p.GetMeanValues(), p.GetEigenVectors()
    return p, np.array([m[i] for i in range(n)]), np.array([[e[i][j] for j in range(n)] for i in range(n)])


def test_pca_fit_and_x2p_match_root_tprincipal_bit_for_bit():
    ROOT = pytest.importorskip("ROOT", reason="real ROOT (PyPI package 'root') is needed as the truth")
    rng = np.random.default_rng(21)
    mix = np.array([[2.0, 0.5, 0.0, 0.1], [0.0, 1.0, -0.7, 0.0], [0.3, 0.0, 0.4, 0.0], [0.0, 0.2, 0.0, 0.05]])
    x = (rng.normal(size=(900, 4)) @ mix + [1.0, -3.0, 20.0, 0.5]).astype(np.float32)
    cid = rng.integers(0, 3, 900)
    chain = TransformChain.fit(x, cid, n_classes=3, items="P", variables=["a", "b", "c", "d"])
    (t,) = chain.transforms
    assert t.n_sets == 4  # three classes + all classes, TMVA's maxPCA = nCls + 1
    for k, m in enumerate([cid == 0, cid == 1, cid == 2, np.ones(900, bool)]):
        p, mean, vecs = _root_pca(ROOT, x[m])
        np.testing.assert_array_equal(t.means[k], mean)
        np.testing.assert_array_equal(t.eigenvectors[k], vecs)  # ROOT's signs
        # VariablePCATransform::X2P = TPrincipal::X2P without normalisation, stored as float
        want = np.empty((20, 4), np.float32)
        buf = np.zeros(4)
        for i, row in enumerate(x[:20].astype(np.float64)):
            p.X2P(row, buf)
            want[i] = buf
        np.testing.assert_array_equal(chain.forward(x[:20], cls=k), want)
        if k == 3:  # the Reader's default (class -1) and any class out of range take the all-classes set
            np.testing.assert_array_equal(chain.forward(x[:20]), want)
            np.testing.assert_array_equal(chain.forward(x[:20], cls=7), want)


def test_pca_single_class_has_one_set_and_inverse_is_tmvas_p2x():
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(400, 3)) * [3.0, 1.0, 0.1]).astype(np.float32)
    chain = TransformChain.fit(x, items="P")
    (t,) = chain.transforms
    assert t.n_sets == 1  # nCls <= 1: no extra all-classes TPrincipal
    e, mu = t.eigenvectors[0], t.means[0]
    np.testing.assert_allclose(e.T @ e, np.eye(3), atol=1e-12)
    p = chain.forward(x[:5])
    # TMVA's P2X adds the sum of all means to every x_i: x_i = sum_j (p_j E(i, j) + mean_j)
    back = t.apply_inverse(p, -1, np.arange(3))
    want = p.astype(np.float64) @ e.T + mu.sum()
    np.testing.assert_allclose(back, want.astype(np.float32), rtol=1e-6, atol=1e-6)


def test_pca_refuses_targets_and_degenerate_classes():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(50, 2)).astype(np.float32)
    cid = np.repeat([0, 1], 25)
    # VariablePCATransform sizes TPrincipal by the number of selected variables: targets do not work
    with pytest.raises(OptionError, match="variables only"):
        TransformChain.fit(x, cid, targets=x, n_classes=2, items="P(_T_)")
    with pytest.raises(OptionError, match="at least 2"):
        TransformChain.fit(x, cid, n_classes=2, items="P(_V0_)")
    flat = x.copy()
    flat[cid == 1] = [1.0, 2.0]  # class 1 is one point: covariance trace 0, TPrincipal divides by it
    with pytest.raises(InputDataError, match="class index 1.*no spread"):
        TransformChain.fit(flat, cid, n_classes=2, items="P")
    with pytest.raises(InputDataError, match="no training events in class 1"):
        TransformChain.fit(x, np.zeros(50, int), n_classes=2, items="P")


def test_pca_xml_layout_is_variablepcatransform_attachxmlto():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    x[:, 2] += x[:, 0]
    cid = rng.integers(0, 4, 400)
    chain = TransformChain.fit(x, cid, n_classes=4, items="P", variables=["a", "b", "c"])
    (t,) = chain.transforms
    el = write_transformations(chain, "tmva")
    (tr,) = el
    assert tr.tag == "Transform" and tr.attrib == {"Name": "PCA"}
    kids = list(tr)
    assert [k.tag for k in kids] == ["Selection"] + ["Statistics"] * 5 + ["Eigenvectors"] * 5
    names = ["Signal", "Background", "Combined", "Combined", "Combined"]  # by index only, as TMVA writes
    for k in range(5):
        st_, ev = kids[1 + k], kids[6 + k]
        assert list(st_.attrib.items()) == [("Class", names[k]), ("ClassIndex", str(k)), ("NRows", "3")]
        assert list(ev.attrib.items()) == [("Class", names[k]), ("ClassIndex", str(k)), ("NRows", "3"),
                                           ("NCols", "3")]  # fmt: skip
        # StringFromDouble = "%5.8e", each value followed by a blank; the matrix row by row (row = input)
        assert st_.text == "".join(f"{v:5.8e} " for v in t.means[k])
        assert ev.text == "".join(f"{t.eigenvectors[k][i, j]:5.8e} " for i in range(3) for j in range(3))
    # ReadFromXML reads the same numbers back
    back = read_transformations(el, variables=chain.variables).transforms[0]
    np.testing.assert_array_equal(back.means, [[float(f"{v:.8e}") for v in m] for m in t.means])
    rounded = np.array([float(f"{v:.8e}") for v in t.eigenvectors[2].ravel()]).reshape(3, 3)
    np.testing.assert_array_equal(back.eigenvectors[2], rounded)


# ---------------------------------------------------------------------------------------------------------
# XML
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _all_weight_files(), ids=lambda p: p.name)
def test_xml_round_trip_real_files(path):
    _, el, variables = _load(path)
    chain = read_transformations(el, str(path), variables=variables)
    for precision in ("lossless", "tmva"):
        out = write_transformations(chain, precision)
        assert _structure(out) == _structure(el)  # same element paths, attribute names and order
        again = read_transformations(out, variables=variables)
        _same_chain(chain, again)
    # TMVA's number formats reproduce the original text exactly
    out = write_transformations(chain, "tmva")
    for a, b in zip(el.iter(), out.iter(), strict=True):
        assert a.attrib == b.attrib
        assert (a.text or "").strip() == (b.text or "").strip()


def test_xml_round_trip_fitted_chain_with_all_kinds():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(1500, 3)).astype(np.float32)
    x[:, 1] += 0.5 * x[:, 0]
    cid = rng.integers(0, 3, 1500)
    chain = TransformChain.fit(x, cid, n_classes=3, items="D,G,N(b,c),U(a),I", variables=["a", "b", "c"])
    assert [type(t).__name__ for t in chain.transforms] == [
        "DecorrelateTransform",
        "GaussTransform",
        "NormalizeTransform",
        "GaussTransform",
        "IdentityTransform",
    ]
    el = write_transformations(chain)
    assert el.get("NTransformations") == "5" and len(el) == 4  # Identity is counted but not written
    assert [t.get("Name") for t in el] == ["Decorrelation", "Gauss", "Normalize", "Gauss"]
    assert [t.get("FlatOrGauss") for t in el] == [None, "Gauss", None, "Flat"]
    back = read_transformations(el, variables=["a", "b", "c"])
    assert len(back) == 4
    _same_chain(TransformChain(chain.transforms[:4], chain.variables), back)
    np.testing.assert_array_equal(back.forward(x), chain.forward(x))


def test_read_without_variable_list_numbers_by_appearance():
    _, el, _ = _load(MULTI_DL)
    chain = read_transformations(el)
    assert [v[0] for v in chain.variables] == ["var1", "var2", "var3", "var4"]


def _minimal_normalize() -> Element:
    root = Element("Transformations", {"NTransformations": "1"})
    tr = SubElement(root, "Transform", {"Name": "Normalize"})
    sel = SubElement(tr, "Selection")
    inp = SubElement(sel, "Input", {"NInputs": "1"})
    SubElement(inp, "Input", {"Type": "Variable", "Label": "x", "Expression": "x"})
    out = SubElement(sel, "Output", {"NOutputs": "1"})
    SubElement(out, "Output", {"Type": "Variable", "Label": "x", "Expression": "x"})
    SubElement(SubElement(SubElement(tr, "Class", {"ClassIndex": "0"}), "Ranges"), "Range",
               {"Index": "0", "Min": "1.0", "Max": "3.0"})  # fmt: skip
    return root


def test_xml_errors_name_element_and_file():
    good = _minimal_normalize()
    np.testing.assert_allclose(read_transformations(good, variables=["x"]).forward([2.0]), [0.0])

    bad = _minimal_normalize()
    del bad.find("Transform/Class/Ranges/Range").attrib["Max"]
    with pytest.raises(WeightFileError) as info:
        read_transformations(bad, "model.weights.xml", variables=["x"])
    assert (
        "<Range>" in str(info.value) and "Max" in str(info.value) and info.value.where == "model.weights.xml"
    )

    bad = _minimal_normalize()
    bad.find("Transform").set("Name", "Rearrange")
    with pytest.raises(WeightFileError) as info:
        read_transformations(bad, "f.xml")
    assert "Normalize" in info.value.expected

    with pytest.raises(WeightFileError) as info:
        read_transformations(_minimal_normalize(), "f.xml", variables=["y", "z"])
    assert "'x'" in str(info.value) and info.value.expected == ["y", "z"]

    bad = _minimal_normalize()
    bad.find("Transform/Class/Ranges/Range").set("Min", "abc")
    with pytest.raises(WeightFileError, match="not a number"):
        read_transformations(bad, "f.xml")

    _, el, variables = _load(MLP3)
    m = el.find("Transform/Matrix")
    m.text = " ".join(m.text.split()[:-1])
    with pytest.raises(WeightFileError, match="expected 25 numbers"):
        read_transformations(el, str(MLP3), variables=variables)

    with pytest.raises(WeightFileError):
        read_transformations(Element("Weights"), "f.xml")
    with pytest.raises(OptionError):
        write_transformations(TransformChain(), precision="float")


def test_xml_gauss_pdf_errors():
    _, el, variables = _load(GAUSS_DNN)
    el.find("Transform/Variable/CumulativePDF_cls0/PDF").set("InterpolMethod", "4")
    with pytest.raises(WeightFileError) as info:
        read_transformations(el, str(GAUSS_DNN), variables=variables)
    assert "<PDF>" in str(info.value) and info.value.where == str(GAUSS_DNN)


# ---------------------------------------------------------------------------------------------------------
# chain behaviour
# ---------------------------------------------------------------------------------------------------------


def test_chain_identity_none_and_shapes():
    x = np.ones((4, 2), np.float32)
    assert TransformChain.fit(x, items="None").is_identity
    ident = TransformChain.fit(x, items="I")
    assert ident.is_identity and len(ident) == 1
    assert write_transformations(ident).get("NTransformations") == "1"
    np.testing.assert_array_equal(ident.forward(x), x)
    with pytest.raises(OptionError):
        TransformChain.fit(x, items="I(var0)")
    chain = TransformChain.fit(np.random.default_rng(0).normal(size=(50, 2)), items="N")
    with pytest.raises(InputDataError):
        chain.forward(np.ones((3, 3)))
    inp = np.ones((3, 2), np.float32)
    chain.forward(inp)
    assert np.array_equal(inp, np.ones((3, 2)))  # input untouched
    with pytest.raises(OptionError) as info:
        TransformChain.fit(x, items="N(var7)")
    assert info.value.token == "var7"


def test_chain_order_each_item_fitted_on_transformed_data():
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(2000, 2)) @ np.array([[1.0, 0.9], [0.0, 0.4]])).astype(np.float32)
    chain = TransformChain.fit(x, items="D,N")
    d, n = chain.transforms
    dec = d.apply(x, -1, np.arange(2))
    np.testing.assert_array_equal(n.mins[0], dec.min(axis=0))  # N saw decorrelated data
    np.testing.assert_array_equal(chain.forward(x), n.apply(dec, -1, np.arange(2)))


def test_inverse_targets_tmva_semantics_and_composition():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3000, 2)).astype(np.float32)
    t = (rng.exponential(2.0, size=(3000, 1)) + 1).astype(np.float32)
    chain = TransformChain.fit(x, targets=t, items="N,U", target_names=["y"])
    n, u = chain.transforms
    assert [r.kind for r in u.inputs] == ["Variable", "Variable", "Target"]
    tt = chain.forward_targets(t)
    # compose=True undoes both steps (up to the Uniform binning resolution; the extreme tail is lost)
    back = chain.inverse_targets(tt, compose=True)
    core = t[:, 0] < np.quantile(t, 0.99)
    np.testing.assert_allclose(back[core], t[core], atol=0.02 * float(t.max() - t.min()))
    # TMVA: only the first target transformation's inverse is applied to the network output
    lo, hi = float(n.mins[0, 2]), float(n.maxs[0, 2])
    np.testing.assert_allclose(chain.inverse_targets(tt), lo + (tt + 1) * (hi - lo) / 2, rtol=1e-5)


def test_bad_inputs_raise_clear_errors_and_constant_variables_warn():
    chain = TransformChain.fit(np.arange(6, dtype=np.float32).reshape(3, 2), items="N")
    with pytest.raises(InputDataError, match="numeric"):
        chain.forward([["a", "b"]])
    with pytest.raises(InputDataError):
        TransformChain.fit(np.ones((4, 2)), class_ids=[0, 1, 2, 5], n_classes=2, items="N")
    with pytest.warns(UserWarning, match="max == min"):
        TransformChain.fit(np.ones((3, 2)), items="N")


@pytest.mark.parametrize("n_classes", [1, 2, 3])
def test_normalize_ranges_equal_numpy_masked_min_max(n_classes):
    # the one-pass kernel against numpy's min/max over a masked copy per class (+ all events), including a
    # NaN column (numpy's min/max give NaN), a class with no events (the +-FLT_MAX fill stays) and
    # negative zeros
    rng = np.random.default_rng(n_classes)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    x[7, 2] = np.nan
    x[::5, 3] = -0.0
    cid = rng.integers(0, max(n_classes - 1, 1), 500)  # the last class of 3 has no events
    t = NormalizeTransform([InputRef("Variable", j, f"v{j}", f"v{j}") for j in range(4)])
    with np.errstate(invalid="ignore"):
        t.fit(x, cid, np.ones(500), n_classes)
    flt_max = np.finfo(np.float32).max
    masks = (
        [cid == c for c in range(n_classes)] + [np.ones(500, bool)] if n_classes > 1 else [np.ones(500, bool)]
    )
    for k, m in enumerate(masks):
        want_min = x[m].min(axis=0) if m.any() else np.full(4, flt_max, np.float32)
        want_max = x[m].max(axis=0) if m.any() else np.full(4, -flt_max, np.float32)
        np.testing.assert_array_equal(t.mins[k], want_min)
        np.testing.assert_array_equal(t.maxs[k], want_max)
