"""MethodDL: TMVA's deep-learning method on the Numba engine.

Every option TMVA's MethodDL declares is accepted (``InputLayout``, ``BatchLayout``, ``Layout``,
``ErrorStrategy``, ``WeightInitialization``, ``RandomSeed``, ``ValidationSize``, ``Architecture``,
``TrainingStrategy``), with TMVA's meaning:

* the loss follows ``ErrorStrategy`` and the analysis type (spec §1.3); the output function is sigmoid
  (classification), identity (regression) or softmax (multiclass), applied at prediction only;
* the last ``ValidationSize`` events of the (transformed) training sample validate, the rest train;
* ``TrainingStrategy`` phases run in order, each continuing from the best weights so far;
* ``RandomSeed=0`` is not reproducible (as in TMVA); any other value fixes initialisation, shuffling and
  dropout (not TMVA's TRandom3 stream: same seed here does not mean TMVA's numbers);
* ``Architecture`` GPU/CUDNN/OPENCL run on the CPU with a warning (TMVA falls back likewise without CUDA).

Example:
    >>> import numpy as np
    >>> from tmvacompat.data.dataset import DataSet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)).astype(np.float32); y = (X[:, 0] + X[:, 1] < 0).astype(int)
    >>> ds = DataSet.from_arrays(X[:400], y[:400], X[400:], y[400:])
    >>> m = MethodDL("DL", "!H:!V:VarTransform=N:RandomSeed=1:Layout=TANH|8,LINEAR:"
    ...              "TrainingStrategy=LearningRate=1e-2,BatchSize=20,MaxEpochs=5")
    >>> _ = m.train(ds, weight_file="")
    >>> m.GetMvaValues(X[400:]).shape
    (200,)
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from tmvacompat.data.dataset import DataSet
from tmvacompat.data.transforms import TransformChain
from tmvacompat.engine.init import INIT_CODES, initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train as train_network
from tmvacompat.errors import LayoutError, OptionError, TrainingError
from tmvacompat.layout import parse_batch_layout, parse_input_layout, parse_layout
from tmvacompat.methods.base import MethodBase
from tmvacompat.methods.declarations import DL_OPTIONS
from tmvacompat.options import TMVACompatWarning, training_phases
from tmvacompat.specs import AutoencoderLayout, DenseSpec
from tmvacompat.weightfile import Model, NetworkInfo

# ErrorStrategy -> loss character per analysis type (spec §1.3)
_LOSS = {
    "Classification": {"CROSSENTROPY": "C", "SUMOFSQUARES": "R"},
    "Multiclass": {"CROSSENTROPY": "C", "SUMOFSQUARES": "R", "MUTUALEXCLUSIVE": "S"},
    "Regression": {"CROSSENTROPY": "R", "SUMOFSQUARES": "R", "MUTUALEXCLUSIVE": "R"},
}
_REG_CHAR = {"NONE": "0", "L1": "1", "L2": "2"}


def validation_count(text: str, n_events: int) -> int:
    """Number of validation events for ``ValidationSize`` (``20%``, ``0.2`` or ``100``).

    >>> validation_count("20%", 1000), validation_count("0.1", 1000), validation_count("150", 1000)
    (200, 100, 150)
    """
    t = text.strip()
    if t.endswith("%"):
        return int(n_events * float(t[:-1]) / 100.0)
    value = float(t)
    return int(n_events * value) if value < 1 else int(value)


class MethodDL(MethodBase):
    """TMVA's ``MethodDL`` (``Types.kDL``): dense, convolutional, recurrent and graph networks."""

    method_type = "DL"
    option_set = DL_OPTIONS

    def __init__(self, title: str, options: str = "", **kw: Any) -> None:
        super().__init__(title, options, **kw)
        layout = parse_layout(str(self.options.Layout))
        if isinstance(layout, AutoencoderLayout):
            raise LayoutError(
                f"method {title!r}: an Encoder={{...}}Decoder={{...}} layout is for MethodAE, not MethodDL",
                token="Encoder=",
                position=0,
                expected=["DENSE|64|TANH,DENSE|1|LINEAR"],
            )
        self.layout = layout
        self.phases = training_phases(str(self.options.TrainingStrategy))
        arch = str(self.options.Architecture).upper()
        if arch not in ("CPU", "STANDARD"):
            warnings.warn(
                f"method {title!r}: Architecture={arch} runs on the CPU engine here (TMVA without a CUDA "
                f"build falls back to CPU as well)",
                TMVACompatWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ helpers
    def _loss(self, atype: str) -> str:
        strategy = str(self.options.ErrorStrategy).upper()
        if atype == "Regression" and strategy != "SUMOFSQUARES" and self.options.modified("ErrorStrategy"):
            warnings.warn(
                f"method {self.title!r}: regression always trains with the mean squared error "
                f"(ErrorStrategy={strategy} ignored, as in TMVA)",
                TMVACompatWarning,
                stacklevel=3,
            )
        loss = _LOSS[atype].get(strategy)
        if loss is None:
            raise OptionError(
                f"method {self.title!r}: ErrorStrategy={strategy} has no loss for two-class classification "
                f"(TMVA would train with no loss at all)",
                token=f"ErrorStrategy={strategy}",
                expected=["CROSSENTROPY", "SUMOFSQUARES"],
            )
        return loss

    def _input_layout(self, nvar: int) -> tuple[int, int, int]:
        il = parse_input_layout(str(self.options.InputLayout))
        if il.is_default:
            return (1, 1, nvar)
        d, h, w = il.depth, il.height, il.width
        if d * h * w != nvar:
            raise LayoutError(
                f"method {self.title!r}: InputLayout={self.options.InputLayout} holds {d * h * w} values but "
                f"{nvar} variables are booked",
                token=str(self.options.InputLayout),
                position=0,
                expected=[f"a layout with {nvar} values, e.g. 1|1|{nvar}"],
            )
        return (d, h, w)

    def _batch_layout(self, input_layout: tuple[int, int, int], batch_size: int) -> tuple[int, int, int]:
        bl = parse_batch_layout(str(self.options.BatchLayout))
        if not bl.is_default:
            return (bl.depth, bl.height, bl.width)
        d, h, w = input_layout
        return (1, batch_size, w) if d == 1 and h == 1 else (batch_size, d, h * w)

    @staticmethod
    def _labels(sample: Any, atype: str, dataset: DataSet, chain: TransformChain) -> np.ndarray:
        n = len(sample)
        if atype == "Regression":
            return chain.forward_targets(sample.targets.reshape(n, -1)).astype(np.float32)
        if atype == "Multiclass":
            y = np.zeros((n, dataset.n_classes), np.float32)
            y[np.arange(n), sample.class_ids] = 1.0
            return y
        sig = dataset.signal_class if dataset.signal_class is not None else 0
        return (sample.class_ids == sig).astype(np.float32).reshape(n, 1)

    # ------------------------------------------------------------------ training
    def _keep_best_after(self, err: TrainingError) -> None:
        """A training that fails after some epoch improved on the validation sample keeps those best weights
        (the engine has restored them) and goes on to write its weight file, with a warning; one that never
        improved has nothing worth keeping and raises."""
        history = getattr(err, "history", None)
        best = [r for r in getattr(history, "records", []) if r.improved]
        if not best:
            raise err
        self.history = history
        history.best_phase, history.best_epoch = best[-1].phase, best[-1].epoch
        history.best_val_loss = float(best[-1].val_loss)
        self.training_error = err
        warnings.warn(
            f"method {self.title!r}: training stopped early ({err.message}); the model keeps the best "
            f"weights (phase {best[-1].phase}, epoch {best[-1].epoch}, validation error "
            f"{best[-1].val_loss:.6g}) and its weight file is written",
            TMVACompatWarning,
            stacklevel=4,
        )

    def _train_model(self, dataset: DataSet, train: Any, chain: TransformChain, atype: str) -> Model:
        o = self.options
        nvar = dataset.n_variables
        nout = {"Classification": 1, "Regression": dataset.n_targets, "Multiclass": dataset.n_classes}[atype]
        layers = [
            replace(s, width=s.resolved_width(nvar, nout)) if isinstance(s, DenseSpec) else s
            for s in self.layout
        ]
        input_layout = self._input_layout(nvar)
        input_shape = NetworkInfo(layers=layers, input_layout=input_layout).input_shape()
        net = Network.build(layers, input_shape, n_outputs=nout, nvar=nvar, dtype=np.float32)
        if net.output_shape != (nout,):
            raise LayoutError(
                f"method {self.title!r}: the last layer gives {net.output_shape} outputs but the "
                f"{atype} needs {nout}",
                token=str(o.Layout).split(",")[-1],
                expected=[f"a last layer DENSE|{nout}|LINEAR (or DENSE|0|LINEAR)"],
            )
        seed = int(o.RandomSeed) or None
        initialize(net, str(o.WeightInitialization), seed)

        loss = self._loss(atype)
        X = chain.forward(train.X)
        Y = self._labels(train, atype, dataset, chain)
        w = np.asarray(train.weights, np.float32)
        n = len(train)
        n_val = validation_count(str(o.ValidationSize), n)
        n_fit = n - n_val
        if n_val < 1 or n_fit < 1:
            raise OptionError(
                f"method {self.title!r}: ValidationSize={o.ValidationSize} leaves {n_fit} training and "
                f"{n_val} validation events out of {n}",
                token=f"ValidationSize={o.ValidationSize}",
                expected=["20%"],
            )
        for part, ws in (("training", w[:n_fit]), ("validation", w[n_fit:])):
            total = float(np.sum(ws, dtype=np.float64))
            if not total > 0.0:
                raise TrainingError(
                    f"method {self.title!r}: the {len(ws)} {part} events' weights sum to {total:g}; the "
                    "weighted loss is then zero or unbounded below and nothing can be learned. Check the "
                    "weight expression, or set IgnoreNegWeightsInTraining to train with the negative "
                    "weights set to 0",
                    token=f"sum of {part} weights = {total:g}",
                    expected=["a positive sum of event weights"],
                )
        self.training_error = None
        try:
            self.history = train_network(
                net,
                X[:n_fit],
                Y[:n_fit],
                w[:n_fit],
                X[n_fit:],
                Y[n_fit:],
                w[n_fit:],
                loss=loss,
                phases=self.phases,
                seed=seed,
                callback=self.callback,
            )
        except TrainingError as err:
            self._keep_best_after(err)
        first = self.phases[0]
        return Model.from_parts(
            title=self.title,
            method="DL",
            variables=list(dataset.variables),
            spectators=list(dataset.spectators),
            targets=list(dataset.targets) if atype == "Regression" else (),
            classes=list(dataset.class_names) if atype != "Regression" else ["Regression"],
            layers=layers,
            params=net.get_params(),
            analysis_type=atype,
            transforms=chain,
            options=self.xml_options(),
            input_layout=input_layout,
            batch_layout=self._batch_layout(input_layout, first.batch_size),
            loss=loss,
            init=INIT_CODES[str(o.WeightInitialization).upper()],
            regularization=_REG_CHAR.get(first.regularization.upper(), "0"),
            weight_decay=float(first.weight_decay),
            training_events=n,
            dtype=np.float32,
        )
