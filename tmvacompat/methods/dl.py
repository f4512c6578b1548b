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
    >>> from tmvacompat.data.dataset import DataSet, Sample
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

from tmvacompat.data.dataset import DataSet, Sample
from tmvacompat.data.transforms import TransformChain
from tmvacompat.engine.init import INIT_CODES, initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train as train_network
from tmvacompat.errors import LayoutError, OptionError, TrainingError
from tmvacompat.layout import (
    check_batch_layout,
    format_layout,
    parse_batch_layout,
    parse_input_layout,
    parse_layout,
)
from tmvacompat.methods.base import MethodBase
from tmvacompat.methods.declarations import DL_OPTIONS, DNN_OPTIONS
from tmvacompat.options import (
    OptionValues,
    TMVACompatWarning,
    _user_stacklevel,
    format_training_strategy,
    training_phases,
)
from tmvacompat.specs import AutoencoderLayout, DenseSpec
from tmvacompat.weightfile import Model, NetworkInfo
from tmvacompat.weightfile.layers_xml import check_network_budget

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
    #: MethodDL's BatchLayout follows the first phase; MethodDNN's batches follow each phase.
    _batch_layout_per_phase = False
    #: observer of the training (the Factory's epoch table): optional ``start(n_train, n_validation)`` and
    #: the engine trainer's ``phase_start``/``epoch_end``/``phase_end``; None trains silently
    monitor: Any = None

    def __init__(self, title: str, options: str = "", **kw: Any) -> None:
        super().__init__(title, options, **kw)
        self._setup(title)

    def _setup(self, title: str) -> None:
        """Interpret the parsed DL options (layout, phases, architecture, batch layout)."""
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
                stacklevel=_user_stacklevel(),
            )
        self._check_batch_layouts(None)

    # ------------------------------------------------------------------ helpers
    def _check_batch_layouts(self, nvar: int | None) -> None:
        """TMVA's BatchLayout checks for every phase (``MethodDL::TrainDeepNet``); ``nvar`` None at booking.

        A given BatchLayout must fit every phase (TMVA stops at the first that does not). A derived one
        follows the first phase; a later phase with another batch size is trained here as meant, with a
        warning, where TMVA stops after the phase before it.
        """
        il = parse_input_layout(str(self.options.InputLayout))
        bl = parse_batch_layout(str(self.options.BatchLayout))
        if il.is_default:
            shape = None if nvar is None else (1, 1, nvar)
        else:
            shape = (il.depth, il.height, il.width)
        dense = il.is_default or (il.depth == 1 and il.height == 1)
        if not bl.is_default:
            for i, ph in enumerate(self.phases, start=1):
                check_batch_layout((bl.depth, bl.height, bl.width), shape, ph.batch_size, i)
            return
        if self._batch_layout_per_phase:
            return
        b1 = self.phases[0].batch_size
        derived = (1, b1, 0) if dense else (b1, il.depth, il.height * il.width)
        for i, ph in enumerate(self.phases[1:], start=2):
            try:
                check_batch_layout(derived, None, ph.batch_size, i)
            except LayoutError as err:
                if nvar is None:
                    warnings.warn(
                        f"method {self.title!r}: {err.message}; the BatchLayout derived from phase 1 does "
                        f"not fit phase {i}, so TMVA would keep only the phases before it. tmvacompat "
                        f"trains every phase with its own BatchSize",
                        TMVACompatWarning,
                        stacklevel=_user_stacklevel(),
                    )
                break

    def _loss(self, atype: str) -> str:
        strategy = str(self.options.ErrorStrategy).upper()
        if atype == "Regression" and strategy != "SUMOFSQUARES" and self.options.modified("ErrorStrategy"):
            warnings.warn(
                f"method {self.title!r}: regression always trains with the mean squared error "
                f"(ErrorStrategy={strategy} ignored, as in TMVA)",
                TMVACompatWarning,
                stacklevel=_user_stacklevel(),
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
    def validation_events(self, n_train: int) -> int:
        """``ValidationSize`` of ``n_train`` training events (the last ones of the training sample)."""
        return validation_count(str(self.options.ValidationSize), n_train)

    def _split(self, n: int, w: np.ndarray) -> tuple[int, int]:
        """(training, validation) event counts of the training sample (TMVA validates on the last
        ``ValidationSize`` events); refuses a split that leaves either side empty or without weight."""
        n_val = self.validation_events(n)
        n_fit = n - n_val
        self._check_split(n, n_fit, n_val, [("training", w[:n_fit]), ("validation", w[n_fit:])])
        return n_fit, n_val

    def _check_split(self, n: int, n_fit: int, n_val: int, parts: list[tuple[str, np.ndarray]]) -> None:
        o = self.options
        if n_val < 1 or n_fit < 1:
            raise OptionError(
                f"method {self.title!r}: ValidationSize={o.ValidationSize} leaves {n_fit} training and "
                f"{n_val} validation events out of {n}",
                token=f"ValidationSize={o.ValidationSize}",
                expected=["20%"],
            )
        for part, ws in parts:
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

    def build_network(self, nvar: int, nout: int, atype: str = "Classification") -> Network:
        """The untrained engine network this booking makes for ``nvar`` variables and ``nout`` outputs
        (widths resolved, input layout applied, parameters zero); what training starts from and what the
        Factory's network description shows.

        >>> MethodDL("DL", "Layout=TANH|8,LINEAR").build_network(4, 1).n_params
        49
        """
        layers = [
            replace(s, width=s.resolved_width(nvar, nout)) if isinstance(s, DenseSpec) else s
            for s in self.layout
        ]
        input_layout = self._input_layout(nvar)
        input_shape = NetworkInfo(layers=layers, input_layout=input_layout).input_shape()
        check_network_budget(layers, input_layout, f"method {self.title!r}: Layout")
        net = Network.build(layers, input_shape, n_outputs=nout, nvar=nvar, dtype=np.float32)
        if net.output_shape != (nout,):
            raise LayoutError(
                f"method {self.title!r}: the last layer gives {net.output_shape} outputs but the "
                f"{atype} needs {nout}",
                token=str(self.options.Layout).split(",")[-1],
                expected=[f"a last layer DENSE|{nout}|LINEAR (or DENSE|0|LINEAR)"],
            )
        return net

    def _train_model(self, dataset: DataSet, train: Any, chain: TransformChain, atype: str) -> Model:
        o = self.options
        nvar = dataset.n_variables
        nout = {"Classification": 1, "Regression": dataset.n_targets, "Multiclass": dataset.n_classes}[atype]
        input_layout = self._input_layout(nvar)
        self._check_batch_layouts(nvar)
        net = self.build_network(nvar, nout, atype)
        layers = list(net.specs)
        seed = int(o.RandomSeed) or None
        initialize(net, str(o.WeightInitialization), seed)

        loss = self._loss(atype)
        streamed = getattr(dataset, "is_stream", False)
        if streamed:  # the training events come buffer by buffer; the validation events are in memory
            n = dataset.n_train
            n_val = dataset.n_validation
            n_fit = n - n_val
            Xv_raw, Tv, wv64, clsv = dataset.validation_arrays()
            ignore_neg = bool(o.get("IgnoreNegWeightsInTraining", False))

            def make(Xr, Tr, wr, cls):
                wr = np.where(wr < 0, 0.0, wr) if ignore_neg else wr
                s = Sample(Xr, Tr, np.zeros((len(Xr), 0), np.float32), wr, wr, cls)
                return chain.forward(Xr), self._labels(s, atype, dataset, chain), np.asarray(wr, np.float32)

            Xv, Yv, wv = make(Xv_raw, Tv, wv64, clsv)
            source = dataset.training_source(make, self.phases[0].batch_size)
            # the training weights' sums are checked per class when the stream is split
            self._check_split(n, n_fit, n_val, [("validation", wv)])
        else:
            X = chain.forward(train.X)
            Y = self._labels(train, atype, dataset, chain)
            w = np.asarray(train.weights, np.float32)
            n = len(train)
            n_fit, n_val = self._split(n, w)
        self.training_error = None
        monitor = self.monitor
        if monitor is not None and hasattr(monitor, "start"):
            monitor.start(n_fit, n_val)
        try:
            fit_data = (source, None, None) if streamed else (X[:n_fit], Y[:n_fit], w[:n_fit])
            val_data = (Xv, Yv, wv) if streamed else (X[n_fit:], Y[n_fit:], w[n_fit:])
            self.history = train_network(
                net,
                *fit_data,
                *val_data,
                loss=loss,
                phases=self.phases,
                seed=seed,
                callback=self.callback,
                monitor=monitor,
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


def _dl_values_from_dnn(title: str, dnn: OptionValues) -> tuple[OptionValues, str]:
    """MethodDL option values training the network a MethodDNN booking describes, and what changed.

    MethodDNN (``MethodDNN::ProcessOptions``) reads ``ACT|width`` layers, replaces the last one by a linear
    layer with one unit per output, and trains every phase with SGD and momentum; its other options mean
    what MethodDL's do.
    """
    layers = parse_layout(str(dnn.Layout))
    if not all(isinstance(spec, DenseSpec) for spec in layers):
        kinds = sorted({spec.kind for spec in layers if not isinstance(spec, DenseSpec)})
        raise LayoutError(
            f"method {title!r}: MethodDNN (Types.kDNN) has only dense layers, not {', '.join(kinds)}; book "
            f"Types.kDL for them",
            token=str(dnn.Layout),
            expected=["Types.kDL"],
        )
    last = layers[-1]
    note = ""
    if last.activation != "LINEAR" or last.width != 0:
        note = (
            f"; its last layer {last.activation}|{last.width} becomes DENSE|0|LINEAR (one linear unit per "
            f"output), as MethodDNN makes it"
        )
    layout = format_layout([*layers[:-1], DenseSpec(0, "LINEAR")])
    strategy = format_training_strategy(training_phases(str(dnn.TrainingStrategy), method="DNN"))
    values: dict[str, Any] = {name: value for name, value in dnn.items() if name in DL_OPTIONS}
    values.update(Layout=layout, TrainingStrategy=strategy)
    modified = [n for n in values if n in ("Layout", "TrainingStrategy") or dnn.modified(n)]
    modified = [n for n in modified if dnn.modified(n) or values[n] != DL_OPTIONS[n].default]
    return DL_OPTIONS.parse(values, modified=modified), note


class MethodDNN(MethodDL):
    """The old ``MethodDNN`` (``Types.kDNN``, ROOT 6.08-6.20), trained as the MethodDL network it describes.

    The booking takes MethodDNN's options and defaults (``Layout=SOFTSIGN|(N+100)*2,LINEAR``, the two-phase
    TrainingStrategy, SGD with momentum); the weight file is a DL one (``Method="DL::<title>"``), which
    ROOT 6.22 and later read (they no longer have MethodDNN). One warning per booking says so.

    >>> m = MethodDNN("DNN", "Layout=TANH|16,LINEAR:TrainingStrategy=LearningRate=1e-2,BatchSize=32")
    ... # doctest: +SKIP
    >>> m.options.Layout, m.phases[0].optimizer  # doctest: +SKIP
    ('DENSE|16|TANH,DENSE|0|LINEAR', 'SGD')
    """

    method_type = "DL"
    option_set = DNN_OPTIONS
    booked_as = "DNN"
    _batch_layout_per_phase = True

    def __init__(self, title: str, options: str = "", **kw: Any) -> None:
        MethodBase.__init__(self, title, options, **kw)
        self.dnn_options = self.options
        self.options, note = _dl_values_from_dnn(title, self.dnn_options)
        warnings.warn(
            f"method {title!r}: Types.kDNN (MethodDNN, gone from TMVA since ROOT 6.22) is trained as "
            f"MethodDL "
            f"with the same network, Layout={self.options.Layout}, SGD with momentum in every phase unless "
            f'Optimizer is given; the weight file is a DL one (Method="DL::{title}"){note}',
            TMVACompatWarning,
            stacklevel=_user_stacklevel(),
        )
        self._setup(title)
