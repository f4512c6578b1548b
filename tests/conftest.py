"""Shared fixtures: a real dask.distributed LocalCluster of 2 worker processes (started once, closed at the
end of the session) for the tests of tmvacompat.dask, ``tmvacompat apply --scheduler`` and CrossValidation."""

from __future__ import annotations

import pytest


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
