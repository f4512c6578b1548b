"""The options of ``DataLoader::PrepareTrainingAndTestTree`` (TMVA's ``DataSetFactory::InitOptions``).

They live in the data layer because the DataLoader validates them; ``tmvacompat.methods.declarations``
re-exports them beside the methods' and the Factory's options.

Example:
    >>> PREPARE_OPTIONS.parse("nTrain_Signal=1000:SplitMode=Block").SplitMode
    'Block'
"""

from __future__ import annotations

from tmvacompat.options import Option, OptionSet

#: TrainTestSplit_<class>: DataSetFactory::MixEvents accepts (0, 1] and 0 (off), anything else is fatal.
TRAIN_TEST_SPLIT = Option(
    "TrainTestSplit_*",
    float,
    0.0,
    help="Training fraction of class <name> (0: deactivated)",
    minimum=0.0,
    maximum=1.0,
    note="TMVA aborts unless it is in (0, 1] or 0 (off)",
)

#: DataSetFactory::InitOptions (DataLoader::PrepareTrainingAndTestTree), in order; nTrain_/nTest_ for the
#: usual Signal and Background classes are declared, other classes match the patterns.
PREPARE: list[Option] = [
    Option(
        "SplitMode",
        str,
        "Random",
        allowed=("Random", "Alternate", "Block"),
        help="How training and test events are picked",
    ),
    Option(
        "MixMode",
        str,
        "SameAsSplitMode",
        allowed=("SameAsSplitMode", "Random", "Alternate", "Block"),
        help="How events of different classes are mixed",
    ),
    Option(
        "SplitSeed",
        int,
        100,
        help="Seed for the random split (0: from the clock)",
        minimum=0,
        maximum=2**32 - 1,
        note="TMVA reads it into a UInt_t that seeds TRandom3",
    ),
    Option(
        "SplitStdLib",
        str,
        "libstdc++",
        allowed=("libstdc++", "libc++"),
        help="tmvacompat extension: the C++ library whose std::shuffle the random split reproduces "
        "(libstdc++: ROOT built with GCC, as on Linux; libc++: ROOT on macOS)",
    ),
    Option(
        "Streaming",
        bool,
        False,
        help="tmvacompat extension: train out of core, the events streamed through a buffer of BufferEvents "
        "(tmvacompat.data.streaming)",
    ),
    Option(
        "BufferEvents",
        int,
        1_000_000,
        help="tmvacompat extension: with Streaming, the events held in memory at once (at least the "
        "number of entries of all trees: read in memory, TMVA's exact split)",
    ),
    Option(
        "NormMode",
        str,
        "EqualNumEvents",
        allowed=("None", "NumEvents", "EqualNumEvents"),
        help="Renormalisation of event weights in training",
    ),
    Option("ScaleWithPreselEff", bool, False, help="Scale requested numbers by the preselection efficiency"),
    Option("nTrain_Signal", int, 0, help="Training events of class Signal (0: all / half)", minimum=0),
    Option("nTest_Signal", int, 0, help="Test events of class Signal (0: the rest)", minimum=0),
    Option("nTrain_Background", int, 0, help="Training events of class Background", minimum=0),
    Option("nTest_Background", int, 0, help="Test events of class Background", minimum=0),
    Option("V", bool, False, help="Verbosity"),
    Option("VerboseLevel", str, "Info", allowed=("Debug", "Verbose", "Info"), help="Verbose level"),
    Option("Correlations", bool, True, help="Show correlation output"),
    Option("CalcCorrelations", bool, True, help="Compute correlations and variable statistics"),
]
PREPARE_PATTERNS: list[Option] = [
    Option("nTrain_*", int, 0, help="Training events of class <name> (0: all)", minimum=0),
    Option("nTest_*", int, 0, help="Test events of class <name> (0: all)", minimum=0),
    TRAIN_TEST_SPLIT,
]


PREPARE_OPTIONS = OptionSet("DataSetFactory", PREPARE, patterns=PREPARE_PATTERNS)

__all__ = ["TRAIN_TEST_SPLIT", "PREPARE", "PREPARE_PATTERNS", "PREPARE_OPTIONS"]
