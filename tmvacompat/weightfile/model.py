"""The in-memory form of a TMVA weight file (``<MethodSetup>``), shared by the whole package.

A :class:`Model` holds everything a MethodDL (``DL::``) or MethodDNN (``DNN::``) weight file says: the
general info, the options, the variables / spectators / targets, the classes, the variable transformations,
and the network (layer specs plus parameter matrices named and shaped exactly as the XML stores them).
It evaluates with TMVA's application semantics (spec §6) and saves back to TMVA's layout.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import DenseSpec
    >>> m = Model.from_parts(
    ...     title="DL_tiny", variables=["x", "y"],
    ...     layers=[DenseSpec(1, "LINEAR")],
    ...     params=[{"Weights": np.array([[1.0, -1.0]], np.float32), "Biases": np.zeros((1, 1), np.float32)}])
    >>> m.method, m.analysis_type, m.network.output_function
    ('DL', 'Classification', 'S')
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import os
import platform
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import VariableInfo
from tmvacompat.data.rootread import array_block, read_arrays, scalar_column, stack_columns, tree_where
from tmvacompat.errors import InputDataError, InputNotFoundError, WeightFileError
from tmvacompat.options import TMVACompatWarning
from tmvacompat.weightfile.layers_xml import eval_batch_size, network_event_values

ANALYSIS_TYPES = ("Classification", "Regression", "Multiclass")
#: TMVA's value for classifications whose inputs contain NaN (Reader::EvaluateMVA).
NAN_RESPONSE = -999.0


@dataclass
class NetworkInfo:
    """The ``<Weights>`` block: network geometry, the saved net's settings, layer specs and parameters.

    ``input_layout``/``batch_layout`` are (depth, height, width) as in the XML attributes. ``loss``,
    ``init``, ``regularization`` and ``output_function`` are TMVA's enum characters (spec §3.2):
    loss C/R/S, init G/U/I/Z/X/F, regularization '0'/'1'/'2', output function I/S/M. ``params[i]`` maps the
    XML matrix names of layer i to 2-D arrays (Rows x Columns, row-major, as in the file). ``dtype`` is the
    precision of the saved net: float32 for current MethodDL, float64 for MethodDNN (and old DL files
    written with 15 digits).
    """

    layers: list = field(default_factory=list)
    params: list[dict[str, np.ndarray]] = field(default_factory=list)
    input_layout: tuple[int, int, int] = (1, 1, 0)
    batch_layout: tuple[int, int, int] = (1, 1, 0)
    loss: str = "C"
    init: str = "F"
    regularization: str = "0"
    output_function: str = "S"
    weight_decay: float = 0.0
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))

    def input_shape(self) -> tuple[int, ...]:
        """The engine's per-event input shape: (W,) dense, (T, W) recurrent, (D, H, W) images."""
        d, h, w = self.input_layout
        first = self.layers[0].kind if self.layers else "DENSE"
        if first in ("RNN", "LSTM", "GRU"):
            spec = self.layers[0]
            return (spec.time_steps, spec.input_size)
        if d == 1 and h == 1:
            return (w,)
        return (d, h, w)


def _tdatime_now() -> str:
    # TDatime::AsString: "Fri Oct 15 01:00:42 2021"
    return datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Y")


def _default_general_info(
    analysis_type: str, training_events: int, training_time: float
) -> list[tuple[str, str]]:
    try:
        creator = getpass.getuser()
    except Exception:  # no user database in some containers
        creator = "unknown"
    uname = platform.uname()
    return [
        ("TMVA Release", "4.2.1 [262657]"),
        ("ROOT Release", "6.32/02 [401410]"),
        ("Creator", creator),
        ("Date", _tdatime_now()),
        ("Host", f"{uname.system} {uname.node} {uname.release} {uname.version} {uname.machine}".strip()),
        ("Dir", os.getcwd()),
        ("Training events", str(int(training_events))),
        ("TrainingTime", f"{float(training_time):.8e}"),
        ("AnalysisType", analysis_type),
    ]


@dataclass
class Model:
    """A MethodDL / MethodDNN weight file in memory.

    Attributes:
        method: ``"DL"`` or ``"DNN"`` (the part of ``MethodSetup@Method`` before ``::``).
        title: the method title (after ``::``).
        analysis_type: ``"Classification"``, ``"Regression"`` or ``"Multiclass"``.
        general_info: ordered (name, value) pairs of ``<GeneralInfo>``.
        options: ordered (name, modified, text) triples of ``<Options>``.
        variables / spectators / targets: :class:`VariableInfo` lists.
        classes: class names in index order.
        transforms: a ``tmvacompat.data.transforms.TransformChain`` (or None for no transformation).
        network: the :class:`NetworkInfo` (layers, params, layouts, enum chars).
        mva_pdfs: the (signal, background) PDFs of the classifier output (``<MVAPdfs>``, written with
            ``CreateMVAPdfs``), or None.
    """

    method: str = "DL"
    title: str = "DL"
    analysis_type: str = "Classification"
    general_info: list[tuple[str, str]] = field(default_factory=list)
    options: list[tuple[str, bool, str]] = field(default_factory=list)
    variables: list[VariableInfo] = field(default_factory=list)
    spectators: list[VariableInfo] = field(default_factory=list)
    targets: list[VariableInfo] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    transforms: Any = None
    network: NetworkInfo = field(default_factory=NetworkInfo)
    path: str | None = None
    # (signal, background) tmvacompat.data.pdf.PDF of the classifier output (CreateMVAPdfs), or None
    mva_pdfs: Any = None
    # The <Transformations> / <MVAPdfs> elements as read, written back verbatim while `transforms` is
    # still the chain read from them (exact round trip of every number TMVA wrote).
    _source_transformations: Any = field(default=None, repr=False, compare=False)
    _source_chain: Any = field(default=None, repr=False, compare=False)
    _source_mvapdfs: Any = field(default=None, repr=False, compare=False)
    _source_pdfs: Any = field(default=None, repr=False, compare=False)
    _transform_error: str | None = field(default=None, repr=False, compare=False)
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    _version: int = field(default=0, repr=False, compare=False)
    # the one-call evaluator of plain dense stacks (read-only parameters, shared by threads) and its key
    _fast: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # per-thread engine networks are caches: not copied, not pickled
        state = dict(self.__dict__)
        state.pop("_local", None)
        state["_fast"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    # ------------------------------------------------------------------ convenience views
    @property
    def layers(self) -> list:
        return self.network.layers

    @property
    def params(self) -> list[dict[str, np.ndarray]]:
        return self.network.params

    @property
    def root_version(self) -> str | None:
        """The ROOT release that wrote the file, e.g. ``"6.24/04"`` (None if absent)."""
        value = dict(self.general_info).get("ROOT Release")
        return value.split()[0] if value else None

    @property
    def n_outputs(self) -> int:
        if self.analysis_type == "Multiclass":
            return len(self.classes)
        if self.analysis_type == "Regression":
            return max(1, len(self.targets))
        return 1

    def option(self, name: str, default: str | None = None) -> str | None:
        """The text of option ``name`` (case-insensitive), or ``default``."""
        for key, _mod, text in self.options:
            if key.lower() == name.lower():
                return text
        return default

    # ------------------------------------------------------------------ MVA PDFs (CreateMVAPdfs)
    def _pdfs(self, what: str) -> tuple:
        if self.mva_pdfs is None:
            raise WeightFileError(
                f"<{what}> MVA PDFs for Signal and Background don't exist: the method {self.title!r} was "
                'trained without the option "CreateMVAPdfs" (its <MVAPdfs> element is empty)',
                where=self.path,
                token="CreateMVAPdfs",
                expected=["CreateMVAPdfs"],
            )
        return self.mva_pdfs

    def proba(self, mva, ap_sig: float = 0.5) -> np.ndarray:
        """MethodBase::GetProba for classifier outputs ``mva``: ``p_S ap / (p_S ap + p_B (1 - ap))`` with
        the signal/background PDFs of ``<MVAPdfs>`` (-1 where the denominator is not positive).

        >>> model.proba(model.evaluate(X), ap_sig=0.3)  # doctest: +SKIP
        """
        from tmvacompat.data.pdf import proba

        sig, bkg = self._pdfs("GetProba")
        return proba(sig, bkg, mva, float(ap_sig))

    def rarity(self, mva) -> np.ndarray:
        """MethodBase::GetRarity (background reference): the background PDF integrated from its lower
        edge up to each classifier output (TMVA's bin sum).

        >>> model.rarity(model.evaluate(X))  # doctest: +SKIP
        """
        return self._pdfs("GetRarity")[1].rarity(mva)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_parts(
        cls,
        *,
        title: str,
        variables: Sequence[VariableInfo | str],
        layers: Sequence,
        params: Sequence[Mapping[str, np.ndarray]],
        analysis_type: str = "Classification",
        classes: Sequence[str] | None = None,
        targets: Sequence[VariableInfo | str] = (),
        spectators: Sequence[VariableInfo | str] = (),
        transforms: Any = None,
        options: Sequence[tuple[str, bool, str]] = (),
        input_layout: tuple[int, int, int] | None = None,
        batch_layout: tuple[int, int, int] | None = None,
        loss: str | None = None,
        init: str = "F",
        regularization: str = "0",
        output_function: str | None = None,
        weight_decay: float = 0.0,
        training_events: int = 0,
        training_time: float = 0.0,
        general_info: Sequence[tuple[str, str]] | None = None,
        method: str = "DL",
        dtype=np.float32,
    ) -> Model:
        """Assemble a model from what training produced (defaults follow TMVA's MethodDL).

        ``layers`` are specs with resolved integer widths; ``params`` one dict per layer with the XML matrix
        names. GeneralInfo gets TMVA-like defaults (release strings, creator, date, host, directory).

        >>> from tmvacompat.specs import DenseSpec
        >>> m = Model.from_parts(title="t", variables=["a"], layers=[DenseSpec(1, "LINEAR")],
        ...     params=[{"Weights": np.ones((1, 1)), "Biases": np.zeros((1, 1))}], analysis_type="Regression",
        ...     targets=["y"])
        >>> m.classes, m.network.output_function, m.network.loss
        (['Regression'], 'I', 'R')
        """
        if analysis_type not in ANALYSIS_TYPES:
            raise WeightFileError(
                f"unknown analysis type {analysis_type!r}", token=analysis_type, expected=list(ANALYSIS_TYPES)
            )
        if method not in ("DL", "DNN"):
            raise WeightFileError(f"unsupported method type {method!r}", token=method, expected=["DL", "DNN"])
        vars_ = [VariableInfo.of(v) for v in variables]
        nvar = len(vars_)
        if classes is None:
            classes = {"Classification": ["Signal", "Background"], "Regression": ["Regression"]}.get(
                analysis_type, []
            )
        if analysis_type == "Multiclass" and len(classes) < 2:
            raise WeightFileError("a multiclass model needs its class names (classes=[...])", token="classes")
        if loss is None:
            loss = "R" if analysis_type == "Regression" else "C"
        if output_function is None:
            output_function = {"Classification": "S", "Regression": "I", "Multiclass": "M"}[analysis_type]
        dt = np.dtype(dtype)
        n_out = {"Classification": 1, "Regression": max(1, len(targets)), "Multiclass": len(classes)}
        n_out = n_out[analysis_type]
        resolved = []
        for spec in layers:
            if spec.kind == "DENSE" and (not isinstance(spec.width, int) or spec.width == 0):
                # formula widths ("(N+100)*2") and DENSE|0 (= number of outputs), as MethodDL resolves them
                spec = dataclasses.replace(spec, width=spec.resolved_width(nvar, n_out))
            resolved.append(spec)
        net = NetworkInfo(
            layers=resolved,
            params=[{k: np.array(v, dtype=dt, copy=True) for k, v in p.items()} for p in params],
            input_layout=tuple(input_layout) if input_layout else (1, 1, nvar),  # type: ignore[arg-type]
            batch_layout=tuple(batch_layout) if batch_layout else (1, 1, nvar),  # type: ignore[arg-type]
            loss=loss,
            init=init,
            regularization=regularization,
            output_function=output_function,
            weight_decay=float(weight_decay),
            dtype=dt,
        )
        info = (
            list(general_info)
            if general_info is not None
            else _default_general_info(analysis_type, training_events, training_time)
        )
        model = cls(
            method=method,
            title=title,
            analysis_type=analysis_type,
            general_info=info,
            options=[(str(n), bool(m), str(t)) for n, m, t in options],
            variables=vars_,
            spectators=[VariableInfo.of(v) for v in spectators],
            targets=[VariableInfo.of(v) for v in targets],
            classes=list(classes),
            transforms=transforms,
            network=net,
        )
        model.validate()
        return model

    def validate(self) -> None:
        """Check layers and params agree (shapes per layer, as TMVA's reader would).

        Raises:
            WeightFileError: names the layer and the matrix.
        """
        from tmvacompat.kinds import KINDS
        from tmvacompat.weightfile.layers_xml import expected_shapes, matrix_fits

        net = self.network
        if len(net.params) != len(net.layers):
            raise WeightFileError(
                f"{len(net.layers)} layers but {len(net.params)} parameter dicts", where="Weights"
            )
        shape = net.input_layout
        labelled = {"INPUT": shape}
        for i, (spec, p) in enumerate(zip(net.layers, net.params, strict=True)):
            where = f"Weights/{KINDS[spec.kind].xml.element if spec.kind in KINDS else spec.kind}[{i}]"
            want, out = expected_shapes(spec, shape, labelled, where=where)
            if set(p) != set(want):
                raise WeightFileError(
                    f"parameters {sorted(p)} do not match the matrices {sorted(want)} of this layer",
                    where=where,
                    expected=sorted(want),
                )
            for name, arr in p.items():
                if not matrix_fits(spec, name, want[name], arr.shape, shape):
                    raise WeightFileError(
                        f"matrix {name!r} has shape {arr.shape}, expected {want[name]}",
                        token=name,
                        where=where,
                    )
            shape = out
            if spec.name:
                labelled[spec.name] = out

    # ------------------------------------------------------------------ evaluation
    def invalidate(self) -> None:
        """Forget the engine networks built for evaluation (call after changing layers or params in place)."""
        self._version += 1

    def _engine(self):
        """This thread's engine network (built once per thread: engine buffers are not shared)."""
        net = getattr(self._local, "net", None)
        key = (id(self.network), len(self.network.layers), self._version)
        if net is None or getattr(self._local, "key", None) != key:
            try:
                from tmvacompat.engine.network import Network
            except ImportError as err:  # pragma: no cover - depends on the engine being installed
                raise WeightFileError(f"the network engine is not available: {err}", where=self.path) from err
            from tmvacompat.errors import LayoutError

            try:
                net = Network.build(
                    self.network.layers,
                    self.network.input_shape(),
                    n_outputs=self.n_outputs,
                    nvar=len(self.variables),
                    dtype=self.network.dtype,
                )
                net.set_params(self.network.params)
            except LayoutError as err:
                raise WeightFileError(
                    f"the stored network cannot be built: {err.message}", where=self.path or self.title
                ) from err
            self._local.net = net
            self._local.key = key
        return net

    def input_matrix(self, data) -> np.ndarray:
        """The (n, nvar) float32 input matrix TMVA would build from ``data`` (see :meth:`evaluate`)."""
        return inputs_from_data(data, self.variables, where=self.path or self.title)

    def evaluate(self, data) -> np.ndarray:
        """TMVA's response for every event of ``data``.

        ``data`` is a 2-D array with one column per variable in file order, or a mapping / pandas
        DataFrame / awkward record array / uproot TTree whose fields provide the variable expressions
        (expressions such as ``var1+var2`` are computed). Inputs become float32 (TMVA events hold
        ``Float_t``), go through the transformations (all-classes parameters), the network (no dropout,
        stored batch-norm statistics) and the output function. An event with a NaN input gets -999 from a
        classifier and NaN values (with a warning) from regression and multiclass models, as in TMVA.

        Returns:
            (n,) for classification and single-target regression, (n, ntargets) for several targets,
            (n, nclasses) for multiclass.

        >>> from tmvacompat.specs import DenseSpec
        >>> m = Model.from_parts(title="t", variables=["a", "b"], layers=[DenseSpec(1, "LINEAR")],
        ...     params=[{"Weights": np.array([[1.0, 1.0]]), "Biases": np.zeros((1, 1))}])
        >>> m.evaluate(np.array([[0.0, 0.0], [np.nan, 1.0]])).tolist()
        [0.5, -999.0]
        """
        return self.evaluate_matrix(self.input_matrix(data))

    def _fast_key(self) -> tuple:
        return (id(self.network), len(self.network.layers), self._version, id(self.transforms))

    def _dense_evaluator(self):
        """(evaluator, fused) for a plain dense stack, else None.

        ``fused`` is True when the evaluator also does the input transformation (none, Identity, or one
        Normalize over all variables); otherwise the caller runs ``transforms.forward`` first. Built once per
        parameter version and shared by all threads (the
        :class:`~tmvacompat.weightfile.dense_eval.WeightFileEvaluator` keeps its scratch per thread).
        """
        key = self._fast_key()
        fast = self._fast
        if fast is not None and fast[0] == key:
            return fast[1]
        self._fast = (key, self._build_dense_evaluator())
        return self._fast[1]

    def _build_dense_evaluator(self):
        net = self.network
        nvar = len(self.variables)
        if not net.layers or any(spec.kind != "DENSE" for spec in net.layers) or nvar == 0:
            return None
        if net.dtype not in (np.float32, np.float64) or net.output_function not in ("I", "S", "M"):
            return None
        try:
            from tmvacompat.engine.activations import activation_code
            from tmvacompat.weightfile.dense_eval import WeightFileEvaluator
        except ImportError:  # pragma: no cover - depends on the engine being installed
            return None
        layers = []
        width = nvar
        for spec, p in zip(net.layers, net.params, strict=True):
            W, b = p.get("Weights"), p.get("Biases")
            if W is None or b is None or len(p) != 2 or W.ndim != 2 or W.shape[1] != width:
                return None
            if b.size != W.shape[0]:
                return None
            layers.append((W, b, activation_code(spec.activation)))
            width = W.shape[0]
        if width < self.n_outputs:
            return None
        normalize = None
        fused = True
        chain = self.transforms
        if chain is not None and not getattr(chain, "is_identity", False):
            normalize = _single_normalize(chain, nvar)
            fused = normalize is not None
        ev = WeightFileEvaluator(layers, net.dtype, output_function=net.output_function, normalize=normalize,
                                 check_nan=fused)  # fmt: skip
        return ev, fused

    def event_row_outputs(self, buffers) -> tuple[np.ndarray, int] | None:
        """The Reader's one-event fast path: (this thread's (1, nout) output row, NaN-input count) read from
        one-element ``buffers`` in variable order, or None when the fast path does not apply (then use
        :meth:`evaluate_matrix`). The row is valid until this thread's next call; outputs are after the
        output function but before the regression inverse transformation, NaN for a NaN input.
        """
        if self._transform_error:
            return None
        fast = self._dense_evaluator()
        if fast is None or not fast[1]:
            return None
        try:
            return fast[0].evaluate_buffers(buffers)
        except (TypeError, IndexError, ValueError):
            return None  # unbound or odd buffers: the generic path reports them

    def evaluate_matrix(self, x: np.ndarray, check_nan: bool = True) -> np.ndarray:
        """:meth:`evaluate` for an already-built float32 (n, nvar) input matrix (columns not checked).

        ``check_nan=False`` skips the NaN scan (the caller guarantees finite inputs: the Reader's per-event
        path checks while filling its row).
        """
        if self._transform_error:
            raise WeightFileError(self._transform_error, where=self.path or self.title)
        fast = self._dense_evaluator()
        if fast is not None and x.ndim == 2 and x.shape[1] == fast[0].nin:
            ev, fused = fast
            x = np.ascontiguousarray(x, dtype=np.float32)
            bad = None
            if fused:
                out, nbad = ev.evaluate(x)
                if nbad:
                    bad = np.isnan(x).any(axis=1)
            else:
                if check_nan:
                    rows = np.isnan(x).any(axis=1)
                    if rows.any():
                        bad = rows
                        x = np.where(rows[:, None], np.float32(0), x)
                out, _ = ev.evaluate(np.ascontiguousarray(self.transforms.forward(x), dtype=np.float32))
            return self.finish_outputs(out, bad)
        bad = None
        if check_nan:
            rows = np.isnan(x).any(axis=1)
            if rows.any():
                bad = rows
                x = np.where(rows[:, None], np.float32(0), x)
        if self.transforms is not None:
            x = self.transforms.forward(x)
        net = self._engine()
        if x.dtype != net.dtype:
            x = x.astype(net.dtype)
        # one event: the engine's forward (its buffer is per thread, and read before the next call)
        if x.shape[0] == 1:
            raw = net.forward(x).reshape(1, -1)
        else:
            # batches sized so that every layer's activations of one batch stay within the budget
            per_event = network_event_values(self.network.layers, self.network.input_layout)
            raw = net.predict(x, batch_size=eval_batch_size(per_event))
        out = apply_output_function(raw, self.network.output_function)
        return self.finish_outputs(out, bad)

    def finish_outputs(self, out: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
        """Network outputs (after the output function, (n, nout)) -> what :meth:`evaluate` returns: float32
        class probabilities, inverse-transformed regression targets, classifier values with NaN -> -999.

        Rows flagged in ``bad`` (NaN inputs) give -999 for a classifier (``Reader::EvaluateMVA``); for
        regression and multiclass TMVA only logs an error and the NaN runs through the network, so those rows
        are NaN, with a warning."""
        kind = self.analysis_type
        if kind == "Multiclass":
            res = out.astype(np.float32)
        elif kind == "Regression":
            nt = max(1, len(self.targets))
            t = out[:, :nt].astype(np.float32)
            if self.transforms is not None:
                t = np.asarray(self.transforms.inverse_targets(t), dtype=np.float32)
            res = t[:, 0] if nt == 1 else t
        else:
            # EvaluateMVA returns a Double_t: float32 nets give float32 values, MethodDNN double ones
            res = out[:, 0].copy()
            res[np.isnan(res)] = NAN_RESPONSE
        if bad is not None:
            if kind in ("Multiclass", "Regression"):
                res[bad] = np.nan
                warnings.warn(
                    f"{self.title}: {int(np.count_nonzero(bad))} event(s) with a NaN input variable give NaN "
                    f"{kind.lower()} values (TMVA's Reader logs an error and returns what the network "
                    "computes; only EvaluateMVA maps NaN to -999)",
                    TMVACompatWarning,
                    stacklevel=3,
                )
            else:
                res[bad] = NAN_RESPONSE
        return res

    # ------------------------------------------------------------------ writing
    def save(self, path: str | os.PathLike, precision: str = "lossless", strict: bool = False) -> None:
        """Write the model as a TMVA weight file (atomically: temporary file + rename).

        ``precision="lossless"`` writes the shortest text that reads back to the exact stored values;
        ``precision="tmva"`` formats numbers as TMVA does (``%.6e`` float32 matrices, ``%.16e`` attributes,
        ``%.8e`` variable ranges) and warns when the network has layers TMVA cannot build (CONVT,
        PADDING2D, ADD, CONCAT, labels); ``strict=True`` refuses those with a WeightFileError.
        """
        from tmvacompat.weightfile.xmlwrite import save_model

        save_model(self, path, precision=precision, strict=strict)

    def to_xml(self, precision: str = "lossless", strict: bool = False) -> str:
        """The weight file text :meth:`save` would write."""
        from tmvacompat.weightfile.xmlwrite import model_to_xml

        return model_to_xml(self, precision=precision, strict=strict)


def apply_output_function(raw: np.ndarray, char: str) -> np.ndarray:
    """TMVA's ``EOutputFunction``: 'I' identity, 'S' sigmoid, 'M' softmax over each row."""
    if char == "S":
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-raw))
    if char == "M":
        z = raw - raw.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return raw


def _single_normalize(chain, nvar: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(offset, doubled scale) when ``chain`` applies exactly one Normalize to all ``nvar`` variables in
    order (TMVA's usual ``VarTransform=N``), with the parameters ``chain.forward`` uses; else None."""
    from tmvacompat.data.transforms import NormalizeTransform

    plan = getattr(chain, "_vplan", None)
    if plan is None or len(plan) != 1 or getattr(chain, "n_variables", -1) != nvar:
        return None
    t, pos, cols, full = plan[0]
    if type(t) is not NormalizeTransform or not full:
        return None
    return t._offset_scale(t.pick(t.ref_class), pos)


def _is_tree(data) -> bool:
    return hasattr(data, "arrays") and hasattr(data, "num_entries") and hasattr(data, "keys")


def _field_getter(data):
    """(names, get(name) -> np.ndarray | None) for mappings, DataFrames, awkward records and TTrees."""
    try:
        import awkward as ak
    except ImportError:  # pragma: no cover
        ak = None
    if ak is not None and isinstance(data, ak.Array):
        names = list(ak.fields(data))

        def get_ak(name):
            if name not in names:
                return None
            col = data[name]
            text = str(ak.type(col))
            if "string" in text or "bytes" in text:
                return col  # refused by the caller; never decoded (ak.to_numpy can hang on invalid UTF-8)
            try:
                return ak.to_numpy(col)
            except Exception:
                return col

        return names, get_ak
    if hasattr(data, "columns") and hasattr(data, "__getitem__"):  # pandas
        names = [str(c) for c in data.columns]
        return names, (lambda name: np.asarray(data[name]) if name in names else None)
    if isinstance(data, Mapping):
        names = [str(k) for k in data.keys()]
        return names, (lambda name: data[name] if name in data else None)
    raise InputDataError(
        f"cannot read input variables from a {type(data).__name__}",
        expected=[
            "2-D array (events x variables)",
            "mapping of arrays",
            "pandas DataFrame",
            "awkward record array",
            "uproot TTree",
        ],
    )


def tree_branches(tree, variables: Sequence[VariableInfo], where: str | None = None) -> list[str]:
    """The branches of uproot ``tree`` that ``variables`` read (expressions such as ``var1+var2`` and
    array elements ``vars[3]`` resolved), sorted.

    Raises:
        InputNotFoundError: a needed branch is not in the tree (the closest names are suggested).

    >>> tree_branches(uproot.open("f.root")["TreeS"], model.variables)  # doctest: +SKIP
    ['var1', 'var2', 'var3', 'var4']
    """
    from tmvacompat.data.expressions import branches

    needed: set[str] = set()
    tree_keys = set(tree.keys())
    for v in variables:
        if v.expression in tree_keys:
            needed.add(v.expression)
        else:
            needed |= set(branches(v.formula))
    missing = sorted(b for b in needed if b not in tree_keys)
    if missing:
        from tmvacompat.errors import closest

        raise InputNotFoundError(
            f"tree has no branch {missing[0]!r} needed by the variables {_names(variables)}",
            token=missing[0],
            expected=closest(missing[0], tree_keys) or sorted(tree_keys)[:40],
            where=where or tree_where(tree),
        )
    return sorted(needed)


def _names(variables: Sequence[VariableInfo]) -> list[str]:
    """Variable expressions for messages, an AddVariablesArray block once as ``vars[0..63]``."""
    out: list[str] = []
    for expr, idx in _groups(variables):
        first = variables[idx[0]]
        if first.array_index is None:
            out.append(expr)
        else:
            out.append(f"{expr}[{first.array_index}..{first.array_index + len(idx) - 1}]")
    return out


def _groups(variables: Sequence[VariableInfo]) -> list[tuple[str, list[int]]]:
    """(expression, variable indices): consecutive elements of one AddVariablesArray block together."""
    groups: list[tuple[str, list[int]]] = []
    for j, v in enumerate(variables):
        prev = variables[groups[-1][1][-1]] if groups else None
        if (
            v.array_index is not None
            and prev is not None
            and prev.expression == v.expression
            and prev.array_index == v.array_index - 1
        ):
            groups[-1][1].append(j)
        else:
            groups.append((v.expression, [j]))
    return groups


def _is_source(item) -> bool:
    return isinstance(item, (str, os.PathLike)) or _is_tree(item)


def inputs_from_data(data, variables: Sequence[VariableInfo], where: str | None = None) -> np.ndarray:
    """Build the float32 (n, nvar) input matrix for ``variables`` from array-like or field-like ``data``.

    ``data`` may also be ``"file.root:tree"``, an uproot TTree, or a list of those (read one after the other,
    as a TChain would).

    >>> inputs_from_data({"a": [1.0, 2.0]}, [VariableInfo.of("a")]).tolist()
    [[1.0], [2.0]]
    """
    if isinstance(data, (str, os.PathLike)):
        from tmvacompat.data.loader import open_tree

        tree = open_tree(os.fspath(data))
        try:
            return inputs_from_data(tree, variables, where)
        finally:
            tree.file.close()
    if isinstance(data, (list, tuple)) and data and all(_is_source(d) for d in data):
        parts = [inputs_from_data(d, variables, where) for d in data]
        return np.concatenate(parts) if parts else np.zeros((0, len(variables)), np.float32)
    nvar = len(variables)
    if _is_tree(data):
        # awkward keeps jagged branches (jet_pt[0], Max$(jet_pt)) in a form the expressions understand;
        # messages name the model and the file:tree
        where = tree_where(data) if where is None else f"{where} on {tree_where(data)}"
        needed = tree_branches(data, variables, where)
        data = read_arrays(data, needed, where)
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if isinstance(data, np.ndarray) or (
        not isinstance(data, Mapping)
        and not hasattr(data, "columns")
        and hasattr(data, "__array__")
        and not _looks_awkward(data)
    ):
        arr = np.asarray(data)
        if arr.ndim == 1 and nvar == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != nvar:
            raise InputDataError(
                f"input array has shape {arr.shape}; expected (n_events, {nvar}) with columns "
                f"{[v.expression for v in variables]}",
                token=str(arr.shape),
                where=where,
            )
        if arr.dtype.kind not in "fiub":
            raise InputDataError(f"input array has dtype {arr.dtype}; expected numbers", where=where)
        return np.ascontiguousarray(arr, dtype=np.float32)

    names, get = _field_getter(data)
    cols = []
    n = None
    fields_cache: dict[str, Any] | None = None
    for expr, idx in _groups(variables):
        first = variables[idx[0]]
        if first.array_index is not None:
            # an AddVariablesArray block: the whole (n, size) slice in one pass, jagged vectors included
            value = get(expr)
            block = (
                None if value is None else array_block(value, first.array_index, first.array_index + len(idx))
            )
            if block is not None:
                for k in range(len(idx)):
                    cols.append((variables[idx[k]], block[0][:, k]))
                continue
        for j in idx:
            cols.append((variables[j], None))
    out_cols = []
    for v, col in cols:
        if col is not None:
            if n is not None and col.shape[0] != n:
                raise InputDataError(
                    f"variable {v.formula!r} has {col.shape[0]} entries, the others {n}",
                    token=v.expression,
                    where=where,
                )
            out_cols.append(col)
            n = col.shape[0]
            continue
        whole = v.formula == v.expression  # not an element of an AddVariablesArray variable
        col = get(v.expression) if whole else None
        if col is None and v.label and whole:
            col = get(v.label)
        if col is None:
            if fields_cache is None:
                fields_cache = {}
            from tmvacompat.data.expressions import branches, evaluate

            try:
                needed = branches(v.formula)
            except Exception as err:
                raise InputDataError(
                    f"cannot parse variable expression {v.expression!r}: {err}",
                    token=v.expression,
                    where=where,
                ) from err
            for b in needed:
                if b not in fields_cache:
                    value = get(b)
                    if value is None:
                        from tmvacompat.errors import closest

                        raise InputNotFoundError(
                            f"no field {b!r} for variable {v.expression!r}",
                            token=b,
                            expected=closest(b, names) or names[:40],
                            where=where,
                        )
                    fields_cache[b] = value
            col = evaluate(v.formula, {b: fields_cache[b] for b in needed})
        col = scalar_column(col, v.expression, where)
        if col.ndim != 1:
            raise InputDataError(
                f"variable {v.expression!r} is not one number per event (shape {col.shape})",
                token=v.expression,
                where=where,
            )
        if n is None:
            n = col.shape[0]
        elif col.shape[0] != n:
            raise InputDataError(
                f"variable {v.expression!r} has {col.shape[0]} entries, the others {n}",
                token=v.expression,
                where=where,
            )
        out_cols.append(col)
    if not out_cols:
        return np.zeros((0, 0), np.float32)
    return stack_columns(out_cols, n or 0)


def _looks_awkward(data) -> bool:
    return type(data).__module__.startswith("awkward")


__all__ = [
    "Model",
    "NetworkInfo",
    "VariableInfo",
    "apply_output_function",
    "inputs_from_data",
    "tree_branches",
    "NAN_RESPONSE",
]
