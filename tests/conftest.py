"""Shared test setup: where the real TMVA-written files are.

``VECTORS`` is the ``shared/vectors`` folder beside the checkout (read-only, third-party files; its
README.md says what each holds). Tests that need it skip, with the reason, where it is absent: mark them
with ``needs_vectors`` or take the ``vectors`` fixture.
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
