"""Declared options of the TMVA configurables tmvacompat mirrors, in TMVA's declaration (= XML) order.

Sources (names, defaults, predefined values; read from TMVA, not copied):
``MethodBase.cxx`` (``DeclareBaseOptions``), MethodDL ``DeclareOptions`` (ROOT master ~2021), the GSoC
``MethodAE.cxx`` (``tmvadnn/root``), the old ``MethodDNN.cxx``, ``Factory.cxx`` (constructor) and
``DataSetFactory.cxx`` (``InitOptions``, the ``PrepareTrainingAndTestTree`` options).

Layout-like options carry checks, so ``DL_OPTIONS.parse(...)`` already refuses a malformed ``Layout``,
``TrainingStrategy``, ``InputLayout``, ``BatchLayout`` or ``ValidationSize`` with the position of the bad
token in the whole option string.

Example:
    >>> vals = DL_OPTIONS.parse("!H:V:ErrorStrategy=CROSSENTROPY:Layout=TANH|128,LINEAR")
    >>> vals.Layout, vals.modified("Layout"), vals.as_text("H")
    ('TANH|128,LINEAR', True, 'False')
"""

from __future__ import annotations

import re

from tmvacompat.data.pdf import MVA_PDF_SUFFIXES, PDF_OPTION_DECLARATIONS
from tmvacompat.data.prepare_options import PREPARE, PREPARE_OPTIONS, PREPARE_PATTERNS
from tmvacompat.errors import OptionError
from tmvacompat.layout import check_layout, parse_batch_layout, parse_input_layout, parse_layout
from tmvacompat.options import Option, OptionSet, parse_training_strategy

_UINT32_MAX = 2**32 - 1
_INT_MAX = 2**31 - 1
_VALIDATION_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(%?)\Z")


def check_validation_size(text: str) -> None:
    """``ValidationSize``: ``20%``, a fraction ``0.2`` (< 1) or an event count ``100`` (>= 1), positive
    and below 2**31 (TMVA converts the count to a C++ int).

    >>> check_validation_size("20%")
    """
    m = _VALIDATION_RE.match(text)
    if m is None or not 0 < float(text.rstrip("%")) < 2**31:
        raise OptionError(
            f"ValidationSize {text!r} is not a positive percentage, fraction or event count "
            f"(TMVA would abort: 'Cannot parse number')",
            token=text,
            position=0,
            expected=["20%", "0.2", "100"],
        )
    if m.group(1) and float(text[:-1]) >= 100:
        raise OptionError(
            f"ValidationSize {text} leaves no training events",
            token=text,
            position=0,
            expected=["a percentage below 100%"],
        )


def _check_strategy(text: str) -> None:
    parse_training_strategy(text)


def _check_dnn_strategy(text: str) -> None:
    parse_training_strategy(text, method="DNN")


def _check_input(text: str) -> None:
    parse_input_layout(text)


def _check_batch(text: str) -> None:
    parse_batch_layout(text)


def _check_any_layout(text: str) -> None:
    parse_layout(text)


#: MethodBase::DeclareBaseOptions, in order.
BASE: list[Option] = [
    Option("V", bool, False, help="Verbose output (short form of VerbosityLevel; overrides it)"),
    Option(
        "VerbosityLevel",
        str,
        "Default",
        help="Verbosity level",
        allowed=("Default", "Debug", "Verbose", "Info", "Warning", "Error", "Fatal"),
    ),
    Option("VarTransform", str, "None", help="Variable transformations before training, e.g. 'N' or 'D,G'"),
    Option("H", bool, False, help="Print method-specific help message"),
    Option(
        "CreateMVAPdfs", bool, False, help="Create PDFs for the classifier outputs (signal and background)"
    ),
    Option("IgnoreNegWeightsInTraining", bool, False, help="Ignore events with negative weights in training"),
]

#: PDF::DeclareOptions under the suffixes MethodBase::ProcessBaseOptions gives the MVA PDFs (MVAPdf, then
#: MVAPdfBkg, MVAPdfSig). They belong to the PDFs, not to the method: read only with CreateMVAPdfs and not
#: written to the weight file's <Options>.
#: Ranges of the PDF options: counts are non-negative (-1 = unset for Min/MaxNSmooth); the upper bounds are
#: tmvacompat's budgets (a histogram of 10^7 bins is 80 MB; 10^4 smoothing passes of TH1::Smooth).
_PDF_RANGES: dict[str, tuple[float, float, str]] = {
    "Nbins": (0, 10**7, "0 (from NAvEvtPerBin) up to tmvacompat's budget of 10^7 bins"),
    "NAvEvtPerBin": (0, _INT_MAX, "a non-negative number of events per bin"),
    "NSmooth": (0, 10**4, "0 up to tmvacompat's budget of 10^4 smoothing passes"),
    "MinNSmooth": (-1, 10**4, "-1 (unset) up to tmvacompat's budget of 10^4 smoothing passes"),
    "MaxNSmooth": (-1, 10**4, "-1 (unset) up to tmvacompat's budget of 10^4 smoothing passes"),
    "KDEFineFactor": (0.0, 1e6, "a non-negative fine factor"),
}
MVAPDF: list[Option] = [
    Option(
        name + suffix,
        typ,
        default,
        allowed=allowed or None,
        help=f"{name} of the {suffix} PDF",
        minimum=_PDF_RANGES[name][0] if name in _PDF_RANGES else None,
        maximum=_PDF_RANGES[name][1] if name in _PDF_RANGES else None,
        note=_PDF_RANGES[name][2] if name in _PDF_RANGES else "",
    )
    for suffix in MVA_PDF_SUFFIXES
    for name, typ, default, allowed in PDF_OPTION_DECLARATIONS
]

DL_TRAINING_STRATEGY = (
    "LearningRate=1e-3,Momentum=0.0,ConvergenceSteps=100,MaxEpochs=2000,Optimizer=ADAM,BatchSize=30,"
    "TestRepetitions=1,WeightDecay=0.0,Regularization=None,DropConfig=0.0"
)
#: The two-phase default of ROOT <= 6.20 MethodDL, the old MethodDNN and the GSoC MethodAE.
OLD_TRAINING_STRATEGY = (
    "LearningRate=1e-1,Momentum=0.3,Repetitions=3,ConvergenceSteps=50,BatchSize=30,TestRepetitions=7,"
    "WeightDecay=0.0,Renormalize=L2,DropConfig=0.0,DropRepetitions=5|LearningRate=1e-4,Momentum=0.3,"
    "Repetitions=3,ConvergenceSteps=50,MaxEpochs=2000,BatchSize=20,TestRepetitions=7,WeightDecay=0.001,"
    "Renormalize=L2,DropConfig=0.0+0.5+0.5,DropRepetitions=5,Multithreading=True"
)
#: MethodDNN::DeclareOptions' default (no MaxEpochs, no Optimizer; Renormalize and DropRepetitions are
#: read by nobody).
DNN_TRAINING_STRATEGY = (
    "LearningRate=1e-1,Momentum=0.3,Repetitions=3,ConvergenceSteps=50,BatchSize=30,TestRepetitions=7,"
    "WeightDecay=0.0,Renormalize=L2,DropConfig=0.0,DropRepetitions=5|LearningRate=1e-4,Momentum=0.3,"
    "Repetitions=3,ConvergenceSteps=50,BatchSize=20,TestRepetitions=7,WeightDecay=0.001,Renormalize=L2,"
    "DropConfig=0.0+0.5+0.5,DropRepetitions=5,Multithreading=True"
)
_ERROR_STRATEGIES = ("CROSSENTROPY", "SUMOFSQUARES", "MUTUALEXCLUSIVE")

#: MethodDL::DeclareOptions (ROOT master), in order.
DL: list[Option] = [
    Option(
        "InputLayout", str, "0|0|0", help="Input layout depth|height|width (or T|W, or W)", check=_check_input
    ),
    Option(
        "BatchLayout",
        str,
        "0|0|0",
        help="Batch layout depth|height|width (0|0|0: derived)",
        check=_check_batch,
    ),
    Option(
        "Layout",
        str,
        "DENSE|(N+100)*2|SOFTSIGN,DENSE|0|LINEAR",
        help="Layout of the network",
        check=check_layout,
    ),
    Option(
        "ErrorStrategy",
        str,
        "CROSSENTROPY",
        allowed=_ERROR_STRATEGIES,
        help="Loss: CROSSENTROPY (binary), SUMOFSQUARES (MSE), MUTUALEXCLUSIVE (softmax, multiclass)",
    ),
    Option(
        "WeightInitialization",
        str,
        "XAVIER",
        allowed=("XAVIER", "XAVIERUNIFORM", "GAUSS", "UNIFORM", "IDENTITY", "ZERO"),
        help="Weight initialization strategy",
    ),
    Option(
        "RandomSeed",
        int,
        0,
        help="Seed for weight initialization and batch shuffling (0: not reproducible)",
        minimum=0,
        maximum=_UINT32_MAX,
        note="TMVA seeds TRandom3 with an unsigned 32-bit seed (0: not reproducible)",
    ),
    Option(
        "ValidationSize",
        str,
        "20%",
        help="Validation part of the training data: 20%, 0.2 or 100 events",
        check=check_validation_size,
    ),
    Option(
        "Architecture",
        str,
        "CPU",
        allowed=("STANDARD", "CPU", "GPU", "OPENCL", "CUDNN"),
        help="Architecture to train on (tmvacompat always runs on the CPU)",
    ),
    Option(
        "TrainingStrategy",
        str,
        DL_TRAINING_STRATEGY,
        help="Training phases separated by '|'",
        check=_check_strategy,
    ),
]

#: GSoC MethodAE::DeclareOptions (tmvadnn/root), in order.
AE: list[Option] = [
    Option("InputLayout", str, "0|0|0", help="Input layout depth|height|width", check=_check_input),
    Option("BatchLayout", str, "0|0|0", help="Batch layout depth|height|width", check=_check_batch),
    Option(
        "Layout",
        str,
        "Encoder={DENSE|(N+100)*2|SOFTSIGN}Decoder={DENSE|0|LINEAR}",
        help="Encoder={layers}Decoder={layers}",
        check=_check_any_layout,
    ),
    Option("ErrorStrategy", str, "CROSSENTROPY", allowed=_ERROR_STRATEGIES, help="Loss function"),
    Option(
        "WeightInitialization",
        str,
        "XAVIER",
        allowed=("XAVIER", "XAVIERUNIFORM"),
        help="Weight initialization strategy (AE maps XAVIER to Gauss, XAVIERUNIFORM to Uniform)",
    ),
    Option(
        "Architecture",
        str,
        "CPU",
        allowed=("STANDARD", "CPU", "GPU", "OPENCL"),
        help="Architecture to train on",
    ),
    Option(
        "TrainingStrategy",
        str,
        OLD_TRAINING_STRATEGY,
        help="Training phases separated by '|'",
        check=_check_strategy,
    ),
]

#: MethodDL options the GSoC MethodAE lacks and tmvacompat's MethodAE reads (after the GSoC ones, so the
#: GSoC options keep their XML order), then the variational-autoencoder settings (tmvacompat's own).
AE_EXTENSIONS: list[Option] = [
    Option(
        "RandomSeed", int, 0, help="Seed for weight initialization and batch shuffling (0: not reproducible)"
    ),
    Option(
        "ValidationSize",
        str,
        "20%",
        help="Validation part of the training data: 20%, 0.2 or 100 events",
        check=check_validation_size,
    ),
    Option(
        "Variational",
        bool,
        False,
        help="Variational autoencoder: the encoder's last layer gives mean and log-variance heads",
    ),
    Option("KLWeight", float, 1.0, help="Weight of the KL divergence in the VAE loss"),
    Option("KLAnnealingEpochs", int, 0, help="Epochs over which the KL weight rises linearly to KLWeight"),
    Option(
        "AnomalyScore",
        str,
        "MSE",
        allowed=("MSE", "ELBO"),
        help="Anomaly score: reconstruction MSE in the transformed space, or (VAE) the negative ELBO",
    ),
]

#: The old MethodDNN::DeclareOptions (ROOT 6.08-6.20, weight files with Method="DNN::..."), in order.
#: ROOT 6.08 defaulted Architecture to STANDARD; 6.12 weight files show CPU, kept here.
DNN: list[Option] = [
    Option(
        "Layout",
        str,
        "SOFTSIGN|(N+100)*2,LINEAR",
        help="Layout of the network (ACT|width,...)",
        check=check_layout,
    ),
    Option(
        "ValidationSize", str, "20%", help="Validation part of the training data", check=check_validation_size
    ),
    Option("ErrorStrategy", str, "CROSSENTROPY", allowed=_ERROR_STRATEGIES, help="Loss function"),
    Option(
        "WeightInitialization",
        str,
        "XAVIER",
        allowed=("XAVIER", "XAVIERUNIFORM"),
        help="Weight initialization strategy",
    ),
    Option("Architecture", str, "CPU", allowed=("STANDARD", "CPU", "GPU", "OPENCL"), help="Architecture"),
    Option(
        "TrainingStrategy",
        str,
        DNN_TRAINING_STRATEGY,
        help="Training phases separated by '|' (SGD with momentum; MaxEpochs and Optimizer unknown to DNN)",
        check=_check_dnn_strategy,
    ),
]

#: TMVA::Factory constructor options, in order.
FACTORY: list[Option] = [
    Option("V", bool, False, help="Verbose flag"),
    Option("VerboseLevel", str, "Info", allowed=("Debug", "Verbose", "Info"), help="Verbose level"),
    Option("Color", bool, True, help="Coloured screen output (TMVA: False in ROOT batch mode)"),
    Option("Transformations", str, "I", help="Transformations to test, e.g. I;D;P;U;G,D"),
    Option("Correlations", bool, False, help="Show correlations in the output"),
    Option("ROC", bool, True, help="Show the ROC in the output"),
    Option("Silent", bool, False, help="Inhibit all output after the Factory is created"),
    Option("DrawProgressBar", bool, True, help="Draw a progress bar"),
    Option("ModelPersistence", bool, True, help="Save the trained model (weight files)"),
    Option(
        "AnalysisType",
        str,
        "Auto",
        allowed=("Classification", "Regression", "Multiclass", "Auto"),
        help="Analysis type (Auto: from the classes and targets)",
    ),
]

#: TMVA::Reader constructor options.
READER: list[Option] = [
    Option("V", bool, False, help="Verbose flag"),
    Option("Color", bool, True, help="Coloured screen output"),
    Option("Silent", bool, False, help="Inhibit all output"),
]

BASE_OPTIONS = OptionSet("MethodBase", BASE)
READER_OPTIONS = OptionSet("Reader", READER)
DL_OPTIONS = OptionSet("DL", BASE + DL, MVAPDF)
AE_OPTIONS = OptionSet("AE", BASE + AE + AE_EXTENSIONS, MVAPDF)
DNN_OPTIONS = OptionSet("DNN", BASE + DNN, MVAPDF)
FACTORY_OPTIONS = OptionSet("Factory", FACTORY)

__all__ = [
    "BASE",
    "DL",
    "AE",
    "AE_EXTENSIONS",
    "DNN",
    "MVAPDF",
    "FACTORY",
    "PREPARE",
    "PREPARE_PATTERNS",
    "READER",
    "READER_OPTIONS",
    "BASE_OPTIONS",
    "DL_OPTIONS",
    "AE_OPTIONS",
    "DNN_OPTIONS",
    "FACTORY_OPTIONS",
    "PREPARE_OPTIONS",
    "DL_TRAINING_STRATEGY",
    "OLD_TRAINING_STRATEGY",
    "DNN_TRAINING_STRATEGY",
    "check_validation_size",
]
