"""Tiny weight files cannot make tmvacompat allocate unbounded memory. Sizes are checked
from the declared shapes before anything is allocated (SizeLimitError, also a MemoryError, naming the file
and the element), and evaluation batches shrink for networks with large per-event activations."""

from __future__ import annotations

import re
import resource
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat.errors import SizeLimitError, WeightFileError
from tmvacompat.specs import DenseSpec, MaxPoolSpec, Padding2DSpec, ReshapeSpec
from tmvacompat.weightfile import Model, load_weights
from tmvacompat.weightfile.layers_xml import EVAL_BATCH_VALUES, MAX_EVENT_VALUES, eval_batch_size

MULTICLASS = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml"


def _padded(tmp_path, pad: int) -> Path:
    """A classifier on a 2x2 image: PADDING2D|pad x4, a max-pool over the whole padded image, one linear
    unit. Its XML is a couple of kilobytes whatever ``pad`` is."""
    side = 2 + 2 * pad
    specs = [Padding2DSpec(pad, pad, pad, pad), MaxPoolSpec(side, side, 1, 1), ReshapeSpec(flatten=True),
             DenseSpec(1, "LINEAR")]  # fmt: skip
    params = [{}, {}, {}, {"Weights": np.full((1, 1), 2.0), "Biases": np.full((1, 1), 0.5)}]
    m = Model.from_parts(title="pad", variables=["a", "b", "c", "d"], layers=specs, params=params,
                         input_layout=(1, 2, 2))  # fmt: skip
    path = tmp_path / f"pad{pad}.weights.xml"
    m.save(path)
    return path


def test_large_padding_is_refused_at_load_naming_file_and_element(tmp_path):
    path = _padded(tmp_path, 5000)  # 10002 x 10002 values per event after padding
    assert path.stat().st_size < 8000
    with pytest.raises(SizeLimitError) as err:
        load_weights(path)
    assert isinstance(err.value, MemoryError)
    assert str(path) in str(err.value) and "PaddingLayer2D[0]" in str(err.value)


def test_padding_within_budget_evaluates_in_small_batches(tmp_path):
    path = _padded(tmp_path, 700)  # 1402 x 1402: 2 M values per event, 32 GiB in one 4096-event batch
    m = load_weights(path)
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = 16 << 30 if hard == resource.RLIM_INFINITY else min(16 << 30, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))  # one 4096-event batch would need 32 GiB
    try:
        out = m.evaluate(x)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    # closed form: the max over the zero-padded image is max(0, max(x)); output sigmoid(2 * that + 0.5)
    expect = 1 / (1 + np.exp(-(2 * np.maximum(0, x.max(axis=1)) + 0.5)))
    np.testing.assert_allclose(out, expect, rtol=1e-6)


def test_eval_batch_size_keeps_a_batch_within_its_budget():
    for per_event in (1, 1000, 4_008_004, MAX_EVENT_VALUES):
        b = eval_batch_size(per_event)
        assert 1 <= b <= 4096 and (b == 1 or b * per_event <= EVAL_BATCH_VALUES)


def _edit(src: Path, dst: Path, pattern: str, repl: str, count: int = 1) -> Path:
    text = src.read_text()
    new, n = re.subn(pattern, repl, text, count=count)
    assert n, pattern
    dst.write_text(new)
    return dst


@pytest.mark.skipif(not MULTICLASS.is_file(), reason=f"real TMVA vectors not found at {VECTORS}")
def test_normalize_class_index_beyond_the_classes_is_refused(tmp_path):
    path = _edit(MULTICLASS, tmp_path / "ci.xml", r'ClassIndex="4"', 'ClassIndex="1000000000000"')
    with pytest.raises(WeightFileError) as err:
        load_weights(path)
    assert "ClassIndex=1000000000000" in str(err.value) and str(path) in str(err.value)


@pytest.mark.skipif(not MULTICLASS.is_file(), reason=f"real TMVA vectors not found at {VECTORS}")
def test_a_huge_declared_width_is_a_size_limit_error_before_any_matrix_is_read(tmp_path):
    path = _edit(MULTICLASS, tmp_path / "w.xml", r'<DenseLayer Width="100"', '<DenseLayer Width="1000000000"')
    with pytest.raises(SizeLimitError) as err:
        load_weights(path)
    assert "DenseLayer[0]" in str(err.value) and str(path) in str(err.value)
