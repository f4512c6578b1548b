"""Output files are replaced atomically, with the permissions and symlink behaviour of a plain open()."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from tmvacompat.atomicfile import atomic_path
from tmvacompat.errors import TMVACompatError, WeightFileError
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile import Model


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _model() -> Model:
    return Model.from_parts(
        title="t",
        variables=["a", "b"],
        layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.array([[1.0, 2.0]], np.float32), "Biases": np.zeros((1, 1), np.float32)}],
    )


def test_new_files_get_what_open_gives_under_the_umask(tmp_path, umask):
    with open(tmp_path / "plain", "w"):
        pass
    _model().save(tmp_path / "w.xml")
    assert _mode(tmp_path / "w.xml") == _mode(tmp_path / "plain") == 0o644
    os.umask(0o077)
    _model().save(tmp_path / "private.xml")
    assert _mode(tmp_path / "private.xml") == 0o600


def test_a_replaced_file_keeps_its_permissions(tmp_path, umask):
    target = tmp_path / "w.xml"
    target.write_text("old")
    os.chmod(target, 0o640)
    _model().save(target)
    assert _mode(target) == 0o640 and "MethodSetup" in target.read_text()


def test_a_symlink_is_written_through(tmp_path, umask):
    real = tmp_path / "models" / "w.xml"
    real.parent.mkdir()
    real.write_text("old weights")
    link = tmp_path / "current.xml"
    link.symlink_to(real)
    _model().save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "MethodSetup" in real.read_text()
    chain = tmp_path / "chain.xml"
    chain.symlink_to(link)  # a link to a link: the file at the end changes
    _model().save(chain)
    assert chain.is_symlink() and link.is_symlink() and "MethodSetup" in real.read_text()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.root"
    target.write_text("complete old file")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "complete old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.root"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(WeightFileError, match="does not exist"):
        _model().save(tmp_path / "nowhere" / "w.xml")
    with (
        pytest.raises(TMVACompatError, match="output file"),
        atomic_path(tmp_path / "nowhere" / "x.root", what="output file"),
    ):
        pass


def test_output_root_file_permissions(tmp_path, umask):
    from tmvacompat.output import EventSample, MethodResult, write_output

    rng = np.random.default_rng(0)
    cls = np.arange(100) % 2
    sample = EventSample(cls, np.ones(100), {"x": rng.normal(cls, 1.0)})
    m = MethodResult("DL", "DL", "Classification", sample.variables["x"], sample.variables["x"])
    target = tmp_path / "TMVA.root"
    write_output(target, "dataset", ["Signal", "Background"], sample, sample, [m])
    assert _mode(target) == 0o644
    os.chmod(target, 0o664)
    write_output(target, "dataset", ["Signal", "Background"], sample, sample, [m])
    assert _mode(target) == 0o664
