"""MethodAE weight files (``Method="AE::<title>"``) and the trained autoencoder they describe.

TMVA never shipped a MethodAE weight format (the GSoC fork wrote MethodDL's ``<Weights>``). tmvacompat writes
the same ``<MethodSetup>`` document as MethodDL up to ``<Weights>``, which then holds the two halves::

    <Weights LatentSize="2" Variational="0" KLWeight="1e+00" AnomalyScore="MSE">
      <Encoder NetDepth=... InputDepth=... ...>  DL layer elements  </Encoder>
      <Decoder NetDepth=... InputDepth="1" InputHeight="1" InputWidth="2" ...>  ...  </Decoder>
    </Weights>

``<Encoder>``/``<Decoder>`` carry MethodDL's ``<Weights>`` attributes and layer elements. A variational
encoder's last dense layer has ``2 * LatentSize`` units: the mean head first, then the log-variance head.

Each half is also a MethodDL model of its own (:attr:`AEModel.encoder`, :attr:`AEModel.decoder`), a
regression network that a TMVA::Reader loads when its layers are TMVA's: the encoder takes the input
variables through the input transformation to the latent values (``z0``, ``z1``, ...; the mean for a VAE),
the decoder takes the latent values to the reconstructed variables, which are its regression targets, so
the inverse of the input transformation is applied to its outputs.

Example:
    >>> model = load_weights("dataset/weights/TMVAClassification_AE.weights.xml")  # doctest: +SKIP
    >>> model.anomaly_score(X), model.reconstruct(X), model.generate(100, seed=1)  # doctest: +SKIP
    >>> model.decoder.save("decoder.weights.xml")  # a DL document of its own    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import VariableInfo
from tmvacompat.errors import TMVACompatError, WeightFileError
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile.model import Model, NetworkInfo

#: ``AnomalyScore`` values: reconstruction MSE in the transformed space, or the VAE's negative ELBO
ANOMALY_SCORES = ("MSE", "ELBO")


def latent_infos(k: int, z: np.ndarray | None = None) -> list[VariableInfo]:
    """The latent coordinates as variables ``z0..z{k-1}`` (ranges from ``z`` when given).

    >>> [v.label for v in latent_infos(2)]
    ['z0', 'z1']
    """
    out = []
    for j in range(k):
        lo, hi = (float(z[:, j].min()), float(z[:, j].max())) if z is not None and len(z) else (0.0, 0.0)
        out.append(VariableInfo(f"z{j}", f"z{j}", f"z{j}", "", f"z{j}", "F", lo, hi))
    return out


def reconstruction_infos(variables: list[VariableInfo]) -> list[VariableInfo]:
    """The input variables as regression targets of the decoder (array elements become ``name[i]``)."""
    return [
        dataclasses.replace(
            v, expression=v.formula, label=v.label if v.array_index is None else v.internal, array_index=None
        )
        for v in variables
    ]


def targets_chain(chain: Any, latent: list[VariableInfo], targets: list[VariableInfo]) -> Any:
    """The input transformation re-pointed at the decoder's targets (same fitted parameters), so that a
    regression Reader's inverse target transformation maps decoder outputs back to the variables."""
    from tmvacompat.data.transforms import TARGET, InputRef, TransformChain

    if chain is None:
        return None
    moved = []
    for t in chain.transforms:
        c = copy.copy(t)
        c.inputs = [InputRef(TARGET, r.index, r.label, r.expression) for r in t.inputs]
        c.outputs = [InputRef(TARGET, r.index, r.label, r.expression) for r in t.outputs]
        moved.append(c)
    return TransformChain(
        moved,
        variables=[(v.label, v.expression) for v in latent],
        targets=[(v.label, v.expression) for v in targets],
    )


def check_reconstructable(chain: Any, where: str) -> None:
    """MethodAE reconstructs in the original variable space: at most one changing transformation, and it
    must have an inverse (TMVA's Reader inverts only the first one that selects the targets)."""
    if chain is None:
        return
    from tmvacompat.data.transforms import IdentityTransform

    active = [t for t in chain.transforms if not isinstance(t, IdentityTransform)]
    if len(active) > 1:
        names = ", ".join(type(t).__name__.replace("Transform", "") for t in active)
        raise WeightFileError(
            f"{where}: VarTransform has {len(active)} transformations ({names}); an autoencoder maps its "
            "reconstruction back through one (TMVA's Reader inverts only the first of several)",
            token="VarTransform",
            expected=["N", "G", "U", "None"],
        )
    if active and type(active[0]).__name__ == "PCATransform":
        raise WeightFileError(
            f"{where}: VarTransform=P cannot map a reconstruction back: TMVA's inverse PCA (P2X) adds the "
            "sum of all the means to every variable, so it is no inverse; use N, G, U or None",
            token="VarTransform",
            expected=["N", "G", "U", "None"],
        )
    if active and not getattr(active[0], "invertible", True):
        raise WeightFileError(
            f"{where}: the {active[0].xml_name} transformation has no inverse, so the reconstruction cannot "
            "be mapped back to the variables",
            token="VarTransform",
            expected=["N", "G", "U", "None"],
        )


@dataclass
class AEModel:
    """A trained autoencoder: the input transformation, the encoder and decoder networks, the VAE settings.

    Attributes:
        title: the method title; ``method`` is ``"AE"``.
        variables, spectators, classes, general_info, options, analysis_type: as in :class:`Model`.
        transforms: the input transformation (a ``TransformChain`` over the variables), or None.
        encoder_network / decoder_network: :class:`NetworkInfo` of each half (the encoder's last layer has
            ``2 * latent_size`` units for a VAE: mean rows, then log-variance rows).
        latent_size: number of latent coordinates; variational, kl_weight, score: the VAE settings and the
            ``AnomalyScore`` (``"MSE"`` or ``"ELBO"``).
    """

    title: str
    variables: list[VariableInfo]
    encoder_network: NetworkInfo
    decoder_network: NetworkInfo
    latent_size: int
    variational: bool = False
    kl_weight: float = 1.0
    score: str = "MSE"
    transforms: Any = None
    spectators: list[VariableInfo] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    analysis_type: str = "Classification"
    general_info: list[tuple[str, str]] = field(default_factory=list)
    options: list[tuple[str, bool, str]] = field(default_factory=list)
    latent_ranges: np.ndarray | None = None
    path: str | None = None
    method: str = "AE"
    targets: list = field(default_factory=list)
    mva_pdfs: Any = None
    _source_transformations: Any = field(default=None, repr=False, compare=False)
    _source_chain: Any = field(default=None, repr=False, compare=False)
    _source_mvapdfs: Any = field(default=None, repr=False, compare=False)
    _source_pdfs: Any = field(default=None, repr=False, compare=False)
    _transform_error: str | None = field(default=None, repr=False, compare=False)
    _halves: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.score not in ANOMALY_SCORES:
            raise WeightFileError(
                f"unknown AnomalyScore {self.score!r}", token=self.score, expected=list(ANOMALY_SCORES)
            )
        if self.score == "ELBO" and not self.variational:
            raise WeightFileError(
                "AnomalyScore=ELBO needs a variational autoencoder (Variational=True)",
                token="AnomalyScore",
                expected=["MSE"],
            )
        width = _head_width(self.encoder_network)
        want = self.latent_size * (2 if self.variational else 1)
        if width != want:
            raise WeightFileError(
                f"the encoder gives {width} outputs but LatentSize={self.latent_size}"
                f"{' (variational: mean and log-variance heads)' if self.variational else ''} needs {want}",
                token="LatentSize",
                where=self.path or self.title,
            )
        dec_in = self.decoder_network.input_layout
        if int(np.prod(dec_in)) != self.latent_size:
            raise WeightFileError(
                f"the decoder takes {int(np.prod(dec_in))} inputs but LatentSize={self.latent_size}",
                token="LatentSize",
                where=self.path or self.title,
            )

    # ------------------------------------------------------------------ the halves
    def _half(self, key: str) -> Model:
        model = self._halves.get(key)
        if model is None:
            model = self._halves[key] = self._build_half(key)
        return model

    def _build_half(self, key: str) -> Model:
        k = self.latent_size
        z = self.latent_ranges
        latent = latent_infos(k, z)
        info = [(n, v) for n, v in self.general_info if n != "AnalysisType"] + [
            ("AnalysisType", "Regression")
        ]
        if key in ("encoder", "encoder_full"):
            net = self.encoder_network
            full = key == "encoder_full"
            if self.variational and not full:
                net = _mean_head(net, k)
            targets = (
                latent
                if not full
                else latent
                + [
                    dataclasses.replace(
                        v,
                        expression=f"logvar_{v.label}",
                        label=f"logvar_{v.label}",
                        internal=f"logvar_{v.label}",
                    )
                    for v in latent
                ]
            )
            model = Model(
                method="DL",
                title=f"{self.title}_Encoder",
                analysis_type="Regression",
                general_info=info,
                options=list(self.options),
                variables=list(self.variables),
                spectators=list(self.spectators),
                targets=targets,
                classes=["Regression"],
                transforms=self.transforms,
                network=net,
            )
        else:
            targets = reconstruction_infos(self.variables)
            chain = targets_chain(self.transforms, latent, targets) if key == "decoder" else None
            model = Model(
                method="DL",
                title=f"{self.title}_Decoder",
                analysis_type="Regression",
                general_info=info,
                options=list(self.options),
                variables=latent,
                targets=targets,
                classes=["Regression"],
                transforms=chain,
                network=self.decoder_network,
            )
        model.validate()
        return model

    @property
    def encoder(self) -> Model:
        """The encoder as a MethodDL regression model: variables -> latent (the mean for a VAE); its
        ``evaluate(X)`` equals :meth:`encode` and it saves as a DL weight file of its own."""
        return self._half("encoder")

    @property
    def decoder(self) -> Model:
        """The decoder as a MethodDL regression model: latent -> variables (original space); its
        ``evaluate(Z)`` equals :meth:`decode` and it saves as a DL weight file of its own."""
        return self._half("decoder")

    # ------------------------------------------------------------------ evaluation
    def input_matrix(self, data: Any) -> np.ndarray:
        """The (n, nvar) float32 inputs from an array, a mapping or a tree (as :meth:`Model.evaluate`)."""
        return self.encoder.input_matrix(data)

    def encode(self, data: Any) -> np.ndarray:
        """Latent coordinates (n, LatentSize): the encoder output, the mean for a VAE.

        >>> model.encode(X).shape  # doctest: +SKIP
        (1000, 2)
        """
        x = self.input_matrix(data)
        return np.asarray(self.encoder.evaluate_matrix(x), np.float32).reshape(len(x), self.latent_size)

    def _latent(self, z: Any) -> np.ndarray:
        arr = np.asarray(z, dtype=np.float32)
        if arr.ndim == 1 and self.latent_size == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != self.latent_size:
            raise TMVACompatError(
                f"{self.title}: latent values have shape {arr.shape}; expected (n, {self.latent_size})",
                token=str(arr.shape),
                expected=[f"(n, {self.latent_size})"],
            )
        return np.ascontiguousarray(arr)

    def decode(self, z: Any) -> np.ndarray:
        """Reconstructed variables (n, nvar), in the original variable space, for latent values (n, k).

        >>> model.decode(model.encode(X)).shape  # doctest: +SKIP
        (1000, 4)
        """
        z = self._latent(z)
        return np.asarray(self.decoder.evaluate_matrix(z, check_nan=False), np.float32).reshape(len(z), -1)

    def reconstruct(self, data: Any) -> np.ndarray:
        """``decode(encode(X))``: the reconstruction (n, nvar) in the original variable space."""
        return self.decode(self.encode(data))

    def anomaly_score(self, data: Any) -> np.ndarray:
        """Per-event reconstruction error (n,): the mean over variables of the squared difference between
        the transformed inputs and the decoder output (the space the network was trained in); with
        ``AnomalyScore=ELBO`` (a VAE) plus ``KLWeight`` times the event's KL divergence at z = mean.

        >>> model.anomaly_score(X).shape  # doctest: +SKIP
        (1000,)
        """
        x = self.input_matrix(data)
        xt = x if self.transforms is None else self.transforms.forward(x)
        raw = self._half("decoder_raw").evaluate_matrix(self._latent(self.encode(x)), check_nan=False)
        d = np.asarray(xt, np.float64) - np.asarray(raw, np.float64).reshape(xt.shape)
        score = np.mean(d * d, axis=1)
        if self.score == "ELBO":
            h = np.asarray(self._half("encoder_full").evaluate_matrix(x), np.float64).reshape(len(x), -1)
            mu, s = h[:, : self.latent_size], h[:, self.latent_size :]
            score = score + self.kl_weight * -0.5 * np.sum(1.0 + s - mu * mu - np.exp(s), axis=1)
        return score

    def evaluate(self, data: Any) -> np.ndarray:
        """The anomaly score (what the Factory writes to the method's TestTree branch)."""
        return self.anomaly_score(data)

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` events sampled from the VAE's prior N(0, 1) through the decoder, in the original variable
        space (``seed`` fixes numpy's generator).

        >>> model.generate(5, seed=1).shape  # doctest: +SKIP
        (5, 4)
        """
        if not self.variational:
            raise TMVACompatError(
                f"{self.title}: generate() samples the prior of a variational autoencoder; this one was "
                "trained with Variational=False, so its latent space has no prior to sample",
                token="Variational",
                expected=["Variational=True"],
            )
        if int(n) < 0:
            raise TMVACompatError(f"generate: n must be >= 0, got {n}", token=str(n))
        rng = np.random.default_rng(seed)
        return self.decode(rng.standard_normal((int(n), self.latent_size)).astype(np.float32))

    # the CreateMVAPdfs faces of the score, as for a DL classifier's output
    _pdfs = Model._pdfs
    proba = Model.proba
    rarity = Model.rarity

    # ------------------------------------------------------------------ writing
    def to_xml(self, precision: str = "lossless", strict: bool = False) -> str:
        """The ``AE::<title>`` document :meth:`save` writes."""
        from tmvacompat.weightfile.xmlwrite import (
            PRECISIONS,
            _Node,
            check_tmva_loadable,
            document_header,
            document_text,
            fmt_attr_double,
            network_node,
        )

        if precision not in PRECISIONS:
            raise WeightFileError(
                f"unknown precision {precision!r}", token=str(precision), expected=list(PRECISIONS)
            )
        problems = ["TMVA has no MethodAE (save .encoder and .decoder as DL weight files for TMVA::Reader)"]
        check_tmva_loadable(f"AE::{self.title}", problems, precision, strict)
        self.encoder.validate()
        self.decoder.validate()
        root = document_header(self, precision)
        node = _Node(
            "Weights",
            [
                ("LatentSize", str(self.latent_size)),
                ("Variational", "1" if self.variational else "0"),
                ("KLWeight", fmt_attr_double(self.kl_weight, precision)),
                ("AnomalyScore", self.score),
            ],
        )
        node.children.append(network_node("Encoder", self.encoder_network, precision))
        node.children.append(network_node("Decoder", self.decoder_network, precision))
        if self.latent_ranges is not None:
            lo, hi = self.latent_ranges
            node.add(
                "LatentRanges",
                [
                    ("Min", " ".join(fmt_attr_double(v, precision) for v in lo)),
                    ("Max", " ".join(fmt_attr_double(v, precision) for v in hi)),
                ],
            )
        root.children.append(node)
        return document_text(root)

    def save(self, path: str | os.PathLike, precision: str = "lossless", strict: bool = False) -> None:
        """Write the ``AE::<title>`` weight file (atomically). TMVA cannot read it: ``precision="tmva"``
        warns so, ``strict=True`` refuses; save :attr:`encoder` / :attr:`decoder` for TMVA::Reader."""
        from tmvacompat.weightfile.xmlwrite import save_text

        save_text(self.to_xml(precision=precision, strict=strict), path)


def _head_width(net: NetworkInfo) -> int:
    """Per-event output size of the network's last layer (checked by building the shapes)."""
    from tmvacompat.weightfile.layers_xml import expected_shapes

    shape = net.input_layout
    labelled = {"INPUT": shape}
    for spec in net.layers:
        _, shape = expected_shapes(spec, shape, labelled, where="Encoder")
        if spec.name:
            labelled[spec.name] = shape
    return int(np.prod(shape))


def _mean_head(net: NetworkInfo, k: int) -> NetworkInfo:
    """The encoder with only the mean rows of its last (mean + log-variance) dense layer."""
    last = net.layers[-1]
    if not isinstance(last, DenseSpec):
        raise WeightFileError(
            "a variational encoder must end in a DENSE layer", token=last.kind, expected=["DENSE"]
        )
    p = net.params[-1]
    head = {
        "Weights": np.ascontiguousarray(p["Weights"][:k]),
        "Biases": np.ascontiguousarray(p["Biases"][:k]),
    }
    return dataclasses.replace(
        net, layers=[*net.layers[:-1], dataclasses.replace(last, width=k)], params=[*net.params[:-1], head]
    )


def ae_model_from_element(
    root: ET.Element, weights_el: ET.Element, title: str, head: dict, path: str
) -> AEModel:
    """Build an :class:`AEModel` from a parsed ``AE::`` document (called by ``load_weights``)."""
    from tmvacompat.weightfile.xmlread import _child, _float, _int, read_dl_network, read_transformations_into

    where = f"{path}: MethodSetup/Weights"
    k = _int(weights_el, "LatentSize", where, lo=1)
    variational = weights_el.get("Variational", "0").strip() in ("1", "true", "True")
    enc = read_dl_network(_child(weights_el, "Encoder", where), f"{where}/Encoder")
    dec = read_dl_network(_child(weights_el, "Decoder", where), f"{where}/Decoder")
    if int(np.prod(enc.input_layout)) != len(head["variables"]):
        raise WeightFileError(
            f"the encoder input {' x '.join(map(str, enc.input_layout))} does not hold the "
            f"{len(head['variables'])} variables",
            where=f"{where}/Encoder",
            token="InputWidth",
        )
    ranges = None
    rel = weights_el.find("LatentRanges")
    if rel is not None:
        try:
            ranges = np.array([[float(v) for v in rel.get(a, "").split()] for a in ("Min", "Max")])
        except ValueError:
            raise WeightFileError(
                "LatentRanges holds a value that is not a number", where=f"{where}/LatentRanges"
            ) from None
        if ranges.shape != (2, k):
            raise WeightFileError(f"LatentRanges needs {k} values each", where=f"{where}/LatentRanges")
    model = AEModel(
        title=title,
        variables=head["variables"],
        encoder_network=enc,
        decoder_network=dec,
        latent_size=k,
        variational=variational,
        kl_weight=_float(weights_el, "KLWeight", where, default=1.0),
        score=weights_el.get("AnomalyScore", "MSE"),
        spectators=head["spectators"],
        classes=head["classes"],
        analysis_type=head["analysis_type"],
        general_info=head["general_info"],
        options=head["options"],
        latent_ranges=ranges,
        path=path,
    )
    read_transformations_into(model, root, path)
    if model._transform_error:
        raise WeightFileError(model._transform_error, where=path)
    return model


__all__ = [
    "AEModel",
    "ANOMALY_SCORES",
    "ae_model_from_element",
    "check_reconstructable",
    "latent_infos",
    "reconstruction_infos",
    "targets_chain",
]
