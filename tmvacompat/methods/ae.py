"""MethodAE: autoencoders and variational autoencoders booked as ``Types.kAE`` (the GSoC MethodAE, finished).

Options are the GSoC MethodAE's (``Layout=Encoder={...}Decoder={...}``, ``InputLayout``, ``BatchLayout``,
``ErrorStrategy``, ``WeightInitialization``, ``Architecture``, ``TrainingStrategy``) plus MethodDL's
``RandomSeed`` and ``ValidationSize`` and the variational settings ``Variational``, ``KLWeight``,
``KLAnnealingEpochs``, ``AnomalyScore``. Semantics:

* the target is the (``VarTransform``-ed) input itself, the loss the mean squared error (ErrorStrategy is
  ignored, with a warning when set); ``DENSE|0|...`` means one unit per input variable; CONV/PADDING2D
  encoders and CONVT decoders read ``InputLayout`` images;
* ``Variational=True``: the encoder's last (dense) layer of width k becomes mean and log-variance heads of k
  units each; training decodes ``z = mu + exp(s/2) eps`` and minimises reconstruction + KLWeight x KL
  (:mod:`tmvacompat.methods.vae_train`); evaluation decodes the mean;
* the GSoC fork trained on the class labels and monitored on the test set; here the last ``ValidationSize``
  events of the training sample validate, as in MethodDL;
* outputs: ``GetMvaValues`` / ``anomaly_score`` the per-event reconstruction error (mean squared error in the
  transformed space; ``AnomalyScore=ELBO``: the VAE's negative ELBO at z = mu), ``GetRegressionValues`` /
  ``reconstruct`` the reconstruction in the original variable space, ``encode``, ``decode``, ``generate``;
  ``encoder`` and ``decoder`` are standalone MethodDL models (:class:`~tmvacompat.weightfile.AEModel`);
* any AnalysisType is accepted: the Factory treats the score as a classifier output (ROC when the dataset
  has a Signal and a Background class; trees and training history only otherwise).

Example:
    >>> import numpy as np
    >>> from tmvacompat.data.dataset import DataSet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)).astype(np.float32); X[:, 2] = X[:, 0] + X[:, 1]
    >>> ds = DataSet.from_arrays(X[:400], np.zeros(400, int), X[400:], np.zeros(100, int))
    >>> m = MethodAE("AE", "VarTransform=N:RandomSeed=1:Layout=Encoder={DENSE|8|TANH,DENSE|2|LINEAR}"
    ...              "Decoder={DENSE|8|TANH,DENSE|0|LINEAR}:TrainingStrategy=MaxEpochs=3,BatchSize=20")
    >>> _ = m.train(ds, weight_file="")
    >>> m.anomaly_score(X[:5]).shape, m.reconstruct(X[:5]).shape, m.encode(X[:5]).shape
    ((5,), (5, 3), (5, 2))
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
from tmvacompat.errors import LayoutError, OptionError, TMVACompatError, TrainingError
from tmvacompat.layout import INPUT_LABEL, parse_layout
from tmvacompat.methods.declarations import AE_OPTIONS
from tmvacompat.methods.dl import _REG_CHAR, MethodDL
from tmvacompat.methods.vae_train import train_vae
from tmvacompat.options import TMVACompatWarning, _user_stacklevel, training_phases
from tmvacompat.specs import AutoencoderLayout, DenseSpec
from tmvacompat.weightfile import AEModel, NetworkInfo
from tmvacompat.weightfile.ae_model import check_reconstructable


def _stacked(enc_specs: list, dec_specs: list) -> list:
    """Encoder and decoder as one layer list; the decoder's ``INPUT`` (the latent vector) becomes a label
    of the encoder's last layer."""
    if not any(INPUT_LABEL in getattr(s, "sources", ()) for s in dec_specs):
        return [*enc_specs, *dec_specs]
    last = enc_specs[-1]
    label = last.name or "_latent_"
    enc = [*enc_specs[:-1], replace(last, name=label)]
    dec = [
        replace(s, sources=tuple(label if x == INPUT_LABEL else x for x in s.sources))
        if hasattr(s, "sources")
        else s
        for s in dec_specs
    ]
    return [*enc, *dec]


class MethodAE(MethodDL):
    """``Types.kAE``: an autoencoder (or VAE) with a standalone encoder and decoder."""

    method_type = "AE"
    option_set = AE_OPTIONS
    _transforms_targets = False

    def _setup(self, title: str) -> None:
        layout = parse_layout(str(self.options.Layout))
        if not isinstance(layout, AutoencoderLayout):
            raise LayoutError(
                f"method {title!r}: MethodAE needs Layout=Encoder={{...}}Decoder={{...}}",
                token=str(self.options.Layout)[:30],
                position=0,
                expected=["Encoder={DENSE|16|TANH,DENSE|2|LINEAR}Decoder={DENSE|16|TANH,DENSE|0|LINEAR}"],
            )
        enc_labels = {s.name for s in layout.encoder if s.name}
        for i, spec in enumerate(layout.decoder):
            used = set(getattr(spec, "sources", ())) & enc_labels
            if used:
                raise LayoutError(
                    f"method {title!r}: decoder layer {i} ({spec.kind}) refers to encoder label "
                    f"{sorted(used)[0]!r}; the decoder must stand alone (it is used and saved without the "
                    "encoder)",
                    token=sorted(used)[0],
                    expected=["labels defined inside the decoder, or INPUT (the latent vector)"],
                )
        self.variational = bool(self.options.Variational)
        if self.variational and not isinstance(layout.encoder[-1], DenseSpec):
            raise LayoutError(
                f"method {title!r}: a variational encoder must end in a DENSE layer (its width is the latent "
                f"size; it becomes the mean and log-variance heads), not {layout.encoder[-1].kind}",
                token=layout.encoder[-1].kind,
                expected=["...,DENSE|2|LINEAR"],
            )
        if str(self.options.AnomalyScore).upper() == "ELBO" and not self.variational:
            raise OptionError(
                f"method {title!r}: AnomalyScore=ELBO needs Variational=True",
                token="AnomalyScore=ELBO",
                expected=["AnomalyScore=MSE", "Variational=True"],
            )
        if float(self.options.KLWeight) < 0 or int(self.options.KLAnnealingEpochs) < 0:
            raise OptionError(
                f"method {title!r}: KLWeight and KLAnnealingEpochs must be >= 0",
                token=f"KLWeight={self.options.KLWeight}",
                expected=["KLWeight=1.0", "KLAnnealingEpochs=0"],
            )
        self.layout = layout
        self.phases = training_phases(str(self.options.TrainingStrategy))
        if str(self.options.Architecture).upper() not in ("CPU", "STANDARD"):
            warnings.warn(
                f"method {title!r}: Architecture={self.options.Architecture} runs on the CPU engine here",
                TMVACompatWarning,
                stacklevel=_user_stacklevel(),
            )
        if (
            self.options.modified("ErrorStrategy")
            and str(self.options.ErrorStrategy).upper() != "SUMOFSQUARES"
        ):
            warnings.warn(
                f"method {title!r}: an autoencoder trains on the mean squared error of its reconstruction "
                f"(ErrorStrategy={self.options.ErrorStrategy} ignored)",
                TMVACompatWarning,
                stacklevel=_user_stacklevel(),
            )
        self._check_batch_layouts(None)

    # ------------------------------------------------------------------ analysis type
    def decide_analysis_type(self, dataset: DataSet) -> str:
        """The anomaly score is a one-dimensional discriminant: always evaluated as a classifier output."""
        return "Classification"

    def _check_analysis_type(self, atype: str, dataset: DataSet) -> None:
        return None  # background alone, any classes, targets or none: the input is the target

    # ------------------------------------------------------------------ training
    def _resolve(self, specs, nvar: int) -> list:
        return [
            replace(s, width=s.resolved_width(nvar, nvar)) if isinstance(s, DenseSpec) else s for s in specs
        ]

    def _train_model(self, dataset: DataSet, train: Any, chain: TransformChain, atype: str) -> AEModel:
        o = self.options
        nvar = dataset.n_variables
        try:
            check_reconstructable(chain, f"method {self.title!r}")
        except TMVACompatError as err:
            raise OptionError(
                err.message, token=f"VarTransform={o.VarTransform}", expected=err.expected
            ) from err
        enc_specs = self._resolve(self.layout.encoder, nvar)
        dec_specs = self._resolve(self.layout.decoder, nvar)
        input_layout = self._input_layout(nvar)
        self._check_batch_layouts(nvar)
        in_shape = NetworkInfo(layers=enc_specs, input_layout=input_layout).input_shape()
        if self.variational:
            k = enc_specs[-1].width
            enc_specs[-1] = replace(enc_specs[-1], width=2 * k)
        enc = self._build(enc_specs, in_shape, nvar, "encoder")
        if not self.variational:
            k = int(np.prod(enc.output_shape))
        dec = self._build(dec_specs, (k,), nvar, "decoder")
        if int(np.prod(dec.output_shape)) != nvar:
            raise LayoutError(
                f"method {self.title!r}: the decoder gives {int(np.prod(dec.output_shape))} values per event "
                f"but {nvar} input variables are reconstructed",
                token=format(str(o.Layout).rsplit(",", 1)[-1]),
                expected=["a last decoder layer DENSE|0|LINEAR (one unit per variable)"],
            )
        seed = int(o.RandomSeed) or None
        rng = np.random.default_rng(seed)
        initialize(enc, str(o.WeightInitialization), rng)
        initialize(dec, str(o.WeightInitialization), rng)

        X = chain.forward(train.X).astype(np.float32)
        w = np.asarray(train.weights, np.float32)
        n_fit, n_val = self._split(len(train), w)
        self.training_error = None
        kl_weight = float(o.KLWeight)
        try:
            if self.variational:
                self.history = train_vae(
                    enc,
                    dec,
                    k,
                    X[:n_fit],
                    w[:n_fit],
                    X[n_fit:],
                    w[n_fit:],
                    self.phases,
                    seed=seed,
                    kl_weight=kl_weight,
                    annealing_epochs=int(o.KLAnnealingEpochs),
                    callback=self.callback,
                )
            else:
                # one stacked network: the engine's trainer (fused for dense stacks), target = input
                specs = _stacked(enc_specs, dec_specs)
                full = Network.build(specs, in_shape, n_outputs=nvar, nvar=nvar, dtype=np.float32)
                full.set_params(enc.get_params() + dec.get_params())
                Y = X.reshape(len(X), -1)
                self.history = train_network(
                    full,
                    X[:n_fit],
                    Y[:n_fit],
                    w[:n_fit],
                    X[n_fit:],
                    Y[n_fit:],
                    w[n_fit:],
                    loss="R",
                    phases=self.phases,
                    seed=seed,
                    callback=self.callback,
                )
                params = full.get_params()
                enc.set_params(params[: len(enc_specs)])
                dec.set_params(params[len(enc_specs) :])
        except TrainingError as err:
            self._keep_best_after(err)
            if not self.variational and getattr(err, "best_params", None) is not None:
                enc.set_params(err.best_params[: len(enc_specs)])
                dec.set_params(err.best_params[len(enc_specs) :])
        first = self.phases[0]
        common = dict(
            loss="R",
            init=INIT_CODES[str(o.WeightInitialization).upper()],
            output_function="I",
            regularization=_REG_CHAR.get(first.regularization.upper(), "0"),
            weight_decay=float(first.weight_decay),
            dtype=np.dtype(np.float32),
        )
        enc_info = NetworkInfo(
            layers=enc_specs,
            params=enc.get_params(),
            input_layout=input_layout,
            batch_layout=self._batch_layout(input_layout, first.batch_size),
            **common,
        )
        dec_info = NetworkInfo(
            layers=dec_specs,
            params=dec.get_params(),
            input_layout=(1, 1, k),
            batch_layout=(1, first.batch_size, k),
            **common,
        )
        from tmvacompat.weightfile.model import _default_general_info

        model = AEModel(
            title=self.title,
            variables=list(dataset.variables),
            encoder_network=enc_info,
            decoder_network=dec_info,
            latent_size=k,
            variational=self.variational,
            kl_weight=kl_weight,
            score=str(o.AnomalyScore).upper(),
            transforms=chain,
            spectators=list(dataset.spectators),
            classes=list(dataset.class_names),
            analysis_type=atype,
            general_info=_default_general_info(atype, len(train), 0.0),
            options=self.xml_options(),
        )
        z = model.encode(train.X)
        model.latent_ranges = np.array([z.min(axis=0), z.max(axis=0)], np.float64)
        model._halves.clear()
        return model

    def _build(self, specs, shape, nvar: int, which: str) -> Network:
        try:
            return Network.build(specs, shape, n_outputs=nvar, nvar=nvar, dtype=np.float32)
        except LayoutError as err:
            raise LayoutError(
                f"method {self.title!r}, {which}: {err.message}", token=err.token, expected=err.expected
            ) from err

    # ------------------------------------------------------------------ application
    def read_weights(self, path: str) -> AEModel:
        """Load an ``AE::`` weight file into this method."""
        from tmvacompat.weightfile import load_weights

        model = load_weights(path)
        if not isinstance(model, AEModel):
            raise TMVACompatError(
                f"{path} is a {model.method} weight file, not an AE one", token=model.method, expected=["AE"]
            )
        self.model = model
        self.analysis_type = model.analysis_type
        return model

    def _ae(self) -> AEModel:
        return self._need_model()  # type: ignore[return-value]

    def GetMvaValues(self, data: Any) -> np.ndarray:
        """The anomaly scores of a batch (see :meth:`anomaly_score`)."""
        return self.anomaly_score(data)

    def GetMvaValue(self, event: Any) -> float:
        """The anomaly score of one event (1-D array of the variables)."""
        return float(self.anomaly_score(np.asarray(event, np.float32).reshape(1, -1))[0])

    def GetRegressionValues(self, data: Any) -> np.ndarray:
        """The reconstruction in the original variable space: (n, nvar); one event (1-D) gives (nvar,)."""
        arr = np.asarray(data) if not hasattr(data, "keys") else None
        if arr is not None and arr.ndim == 1:
            return self.reconstruct(arr.reshape(1, -1))[0]
        return self.reconstruct(data)

    def anomaly_score(self, data: Any) -> np.ndarray:
        """Per-event reconstruction error (see :meth:`AEModel.anomaly_score`)."""
        return self._ae().anomaly_score(data)

    def reconstruct(self, data: Any) -> np.ndarray:
        """``decode(encode(X))`` in the original variable space."""
        return self._ae().reconstruct(data)

    def encode(self, data: Any) -> np.ndarray:
        """Latent coordinates (the mean for a VAE)."""
        return self._ae().encode(data)

    def decode(self, z: Any) -> np.ndarray:
        """Reconstructed variables for latent values."""
        return self._ae().decode(z)

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """Samples of a VAE's prior through the decoder, in the original variable space."""
        return self._ae().generate(n, seed)

    @property
    def encoder(self):
        """The standalone encoder (a MethodDL regression :class:`~tmvacompat.weightfile.Model`)."""
        return self._ae().encoder

    @property
    def decoder(self):
        """The standalone decoder (a MethodDL regression :class:`~tmvacompat.weightfile.Model`)."""
        return self._ae().decoder

    def evaluate(self, data: Any) -> np.ndarray:
        return self.anomaly_score(data)

    def history_terms(self) -> dict[str, list[float]]:
        """The VAE's reconstruction and KL terms per validation epoch (training and validation)."""
        terms = getattr(self.history, "terms", None)
        if not terms:
            return {}
        keep = [i for i, r in enumerate(self.history.records) if r.val_loss is not None]
        names = {
            "reconstruction": "reconstructionError",
            "kl": "klDivergence",
            "valReconstruction": "valReconstructionError",
            "valKL": "valKLDivergence",
        }
        return {names[k]: [float(v[i]) for i in keep] for k, v in terms.items()}

    def output_branches(self, data: Any) -> dict[str, tuple[list[str], np.ndarray]]:
        """``<title>_Reco``: the reconstruction, one leaf per variable (its internal name)."""
        model = self._ae()
        leaves = [v.internal.replace("[", "_").replace("]", "") for v in model.variables]
        return {f"{self.title}_Reco": (leaves, model.reconstruct(data))}


__all__ = ["MethodAE"]
