"""Shared test setup: where the real TMVA-written files are, and a real dask.distributed cluster.

``VECTORS`` is the ``shared/vectors`` folder beside the checkout (read-only, third-party files; its
README.md says what each holds). Tests that need it skip, with the reason, where it is absent: mark them
with ``needs_vectors`` or take the ``vectors`` fixture. ``dask_client`` is a LocalCluster of 2 worker
processes (started once, closed at the end of the session) for the tests of tmvacompat.dask, ``tmvacompat
apply --scheduler`` and CrossValidation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: the real TMVA-written files, beside the checkout
VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"

#: skip a test where the real TMVA files are absent
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"real TMVA vectors not found at {VECTORS}")


@pytest.fixture
def vectors() -> Path:
    """:data:`VECTORS`, or a skip naming the folder where it is absent."""
    if not VECTORS.is_dir():
        pytest.skip(f"real TMVA vectors not found at {VECTORS}")
    return VECTORS


@pytest.fixture(scope="session")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="the dask extra (distributed) is not installed")
    pytest.importorskip("dask_awkward", reason="the dask extra (dask-awkward) is not installed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
