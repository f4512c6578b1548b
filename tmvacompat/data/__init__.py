"""The data layer: TTreeFormula-style expressions, the DataLoader over ROOT files (uproot), the DataSet,
and TMVA's variable transformations (N, D, P, G, U).

Import from the submodules (``tmvacompat.data.loader``, ``.dataset``, ``.expressions``, ``.transforms``);
this package file imports nothing, so the weight-file layer can use the transforms without pulling in uproot.
"""

from __future__ import annotations
