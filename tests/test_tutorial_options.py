"""Option strings from ROOT's own TMVA tutorials and user macros of the kDNN era: all accepted.

Only the strings are stored (short facts). Sources (root-project/root unless noted): tutorials/tmva/
TMVA_Higgs_Classification.C, TMVA_CNN_Classification.C/.py, TMVA_RNN_Classification.C (formatted with its
ntime=10, ninput=30, batchSize=100, maxepochs=20), TMVARegression.C, TMVAClassification.C (the DL block, and
the kDNN block of ROOT 6.08-6.20 with its blanks after commas), and the PyROOT keyword form of
TMVA_CNN_Classification.py (nTrain_Signal=0.8*N).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tmvacompat.cli import main
from tmvacompat.data.loader import prepare_options
from tmvacompat.methods.declarations import DNN_OPTIONS
from tmvacompat.methods.dl import MethodDL, MethodDNN
from tmvacompat.options import TMVACompatWarning, options_from_kwargs, training_phases

CNN_STRATEGY = (
    "LearningRate=1e-3,Momentum=0.9,Repetitions=1,ConvergenceSteps=5,BatchSize=100,TestRepetitions=1,"
    "MaxEpochs=20,WeightDecay=1e-4,Regularization=None,Optimizer=ADAM,DropConfig=0.0+0.0+0.0+0."
)
DL_BOOKINGS = [
    # TMVA_Higgs_Classification.C
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=G:WeightInitialization=XAVIER:InputLayout=1|1|7:"
    "BatchLayout=1|128|7:Layout=DENSE|64|TANH,DENSE|64|TANH,DENSE|64|TANH,DENSE|64|TANH,DENSE|1|LINEAR:"
    "TrainingStrategy=LearningRate=1e-3,Momentum=0.9,ConvergenceSteps=10,BatchSize=128,TestRepetitions=1,"
    "MaxEpochs=30,WeightDecay=1e-4,Regularization=None,Optimizer=ADAM,ADAM_beta1=0.9,ADAM_beta2=0.999,"
    "ADAM_eps=1.E-7,DropConfig=0.0+0.0+0.0+0.:Architecture=CPU",
    # TMVA_CNN_Classification.C, DNN and CNN
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIER:InputLayout=1|1|256:"
    "BatchLayout=1|100|256:Layout=DENSE|100|RELU,BNORM,DENSE|100|RELU,BNORM,DENSE|100|RELU,BNORM,"
    "DENSE|100|RELU,DENSE|1|LINEAR:TrainingStrategy=" + CNN_STRATEGY + ":Architecture=CPU",
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIER:InputLayout=1|16|16:"
    "BatchLayout=100|1|256:Layout=CONV|10|3|3|1|1|1|1|RELU,BNORM,CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,"
    "RESHAPE|FLAT,DENSE|100|RELU,DENSE|1|LINEAR:TrainingStrategy=" + CNN_STRATEGY + "0:Architecture=CPU",
    # TMVA_RNN_Classification.C, recurrent and dense (the dense one misses a comma and ends with a bare "CPU")
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIERUNIFORM:ValidationSize=0.2:"
    "RandomSeed=1234:InputLayout=10|1|30:BatchLayout=100|10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,"
    "DENSE|64|TANH,LINEAR:TrainingStrategy=LearningRate=1e-3,Momentum=0.0,Repetitions=1,ConvergenceSteps=5,"
    "BatchSize=100,TestRepetitions=1,WeightDecay=1e-2,Regularization=None,MaxEpochs=20,Optimizer=ADAM,"
    "DropConfig=0.0+0.+0.+0.:Architecture=CPU",
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIER:RandomSeed=0:"
    "InputLayout=1|1|300:BatchLayout=1|256|300:Layout=DENSE|64|TANH,DENSE|TANH|64,DENSE|TANH|64,LINEAR:"
    "TrainingStrategy=LearningRate=1e-3,Momentum=0.0,Repetitions=1,ConvergenceSteps=10,BatchSize=256,"
    "TestRepetitions=1,WeightDecay=1e-4,Regularization=None,MaxEpochs=20DropConfig=0.0+0.+0.+0.,"
    "Optimizer=ADAM:CPU",
    # TMVARegression.C
    "!H:V:ErrorStrategy=SUMOFSQUARES:VarTransform=G:WeightInitialization=XAVIERUNIFORM:"
    "Layout=TANH|50,TANH|50,TANH|50,LINEAR:TrainingStrategy=LearningRate=1e-3,Momentum=0.3,"
    "ConvergenceSteps=20,BatchSize=50,TestRepetitions=1,WeightDecay=0.0,Regularization=None,"
    "Optimizer=Adam:Architecture=CPU",
    # TMVAClassification.C (DL, ROOT >= 6.22)
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=N:WeightInitialization=XAVIERUNIFORM:"
    "Layout=TANH|128,TANH|128,TANH|128,LINEAR:TrainingStrategy=LearningRate=1e-2,Momentum=0.9,"
    "ConvergenceSteps=20,BatchSize=100,TestRepetitions=1,WeightDecay=1e-4,Regularization=None,"
    "DropConfig=0.0+0.5+0.5+0.5:Architecture=CPU",
]
DNN_BOOKINGS = [
    # TMVAClassification.C, kDNN (ROOT 6.08-6.20): blanks after commas inside TrainingStrategy
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=N:WeightInitialization=XAVIERUNIFORM:"
    "Layout=TANH|128,TANH|128,TANH|128,LINEAR:TrainingStrategy=LearningRate=1e-1,Momentum=0.9,Repetitions=1,"
    "ConvergenceSteps=20,BatchSize=256,TestRepetitions=10,WeightDecay=1e-4,Regularization=L2,"
    "DropConfig=0.0+0.5+0.5+0.5, Multithreading=True|LearningRate=1e-2,Momentum=0.9,Repetitions=1,"
    "ConvergenceSteps=20,BatchSize=256,TestRepetitions=10,WeightDecay=1e-4,Regularization=L2,"
    "DropConfig=0.0+0.0+0.0+0.0, Multithreading=True|LearningRate=1e-3,Momentum=0.0,Repetitions=1,"
    "ConvergenceSteps=20,BatchSize=256,TestRepetitions=10,WeightDecay=1e-4,Regularization=L2,"
    "DropConfig=0.0+0.0+0.0+0.0, Multithreading=True:Architecture=CPU",
    # the brief's kDNN booking
    "!H:V:Layout=TANH|128,TANH|128,LINEAR:TrainingStrategy=LearningRate=1e-1,Momentum=0.9,Repetitions=1,"
    "ConvergenceSteps=20,BatchSize=256,TestRepetitions=10,WeightDecay=1e-4,Regularization=L2,"
    "DropConfig=0.0+0.5+0.5+0.5,Multithreading=True|LearningRate=1e-2:Architecture=CPU",
    # TMVARegression.C, kDNN era
    "!H:V:ErrorStrategy=SUMOFSQUARES:VarTransform=G:WeightInitialization=XAVIERUNIFORM:"
    "Layout=TANH|100,LINEAR:TrainingStrategy=LearningRate=1e-5,Momentum=0.5,Repetitions=1,"
    "ConvergenceSteps=500,BatchSize=50,TestRepetitions=7,WeightDecay=0.0,Regularization=NONE:Architecture=CPU",
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=N:Layout=TANH|30,TANH|20,LINEAR:Architecture=STANDARD",
]
PREPARE_STRINGS = [
    "nTrain_Signal=7000:nTrain_Background=7000:SplitMode=Random:NormMode=NumEvents:!V",  # Higgs
    "nTrain_Signal=8000:nTrain_Background=8000:SplitMode=Random:SplitSeed=100:NormMode=NumEvents:!V:"
    "!CalcCorrelations",  # RNN
    "nTrain_Signal=1000:nTrain_Background=1000:SplitMode=Random:NormMode=NumEvents:!V",  # TMVAClassification
    "SplitMode=random:!V",  # the tutorials' comment
    "!V:SplitMode=Random:SplitSeed=0:NormMode=EqualNumEvents",
    options_from_kwargs(
        "",
        nTrain_Signal=0.8 * 5000,
        nTrain_Background=0.8 * 5000,
        SplitMode="Random",
        SplitSeed=100,
        NormMode="NumEvents",
        V=False,
        CalcCorrelations=False,
    ),  # TMVA_CNN_Classification.py, through PyROOT's keyword conversion
]


@pytest.mark.parametrize("text", DL_BOOKINGS)
def test_dl_tutorial_bookings_are_accepted(text):
    method = MethodDL("DL", text)
    assert method.phases and method.options.modified("TrainingStrategy")
    assert main(["options", text]) == 0


@pytest.mark.parametrize("text", DNN_BOOKINGS)
def test_dnn_tutorial_bookings_are_accepted_and_mapped_onto_dl(text):
    with pytest.warns(TMVACompatWarning, match="trained as MethodDL") as rec:
        method = MethodDNN("DNN", text)
    assert sum("trained as MethodDL" in str(w.message) for w in rec) == 1
    assert DNN_OPTIONS.parse(text).Layout in text
    assert str(method.options.Layout).endswith("DENSE|0|LINEAR")
    assert all(p.optimizer == "SGD" for p in method.phases)
    assert main(["options", text]) == 0


def test_blanks_inside_the_old_tutorial_strategy_are_read_as_meant_with_tmvas_truncation_named():
    """Option<TString> reads with >> and stops at the first blank: TMVA 6.08-6.20 trained only the first
    phase of TMVAClassification.C's DNN up to 'DropConfig=0.0+0.5+0.5+0.5,'. tmvacompat keeps all three."""
    with pytest.warns(TMVACompatWarning, match="first blank"):
        vals = DNN_OPTIONS.parse(DNN_BOOKINGS[0])
    assert len(training_phases(str(vals.TrainingStrategy), method="DNN")) == 3


def test_glued_key_and_bare_architecture_of_the_rnn_tutorial():
    with pytest.warns(TMVACompatWarning, match="comma is missing before DropConfig"):
        method = MethodDL("TMVA_DNN", DL_BOOKINGS[4])
    assert method.phases[0].max_epochs == 20 and method.phases[0].drop_config == (0.0,) * 4
    assert method.options.Architecture == "CPU" and method.options.modified("Architecture")


@pytest.mark.parametrize("text", PREPARE_STRINGS)
def test_prepare_strings_are_accepted(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vals = prepare_options(["Signal", "Background"]).parse(text)
    if "nTrain_Signal" in text:
        assert vals.nTrain_Signal in (1000, 4000, 7000, 8000)


def test_python_tutorial_keyword_options(tmp_path, monkeypatch):
    # ROOT's Python tutorials pass options as keywords (the pythonization joins them with ':'), e.g.
    # TMVA.Factory("TMVAClassification", out, V=False, ROC=True, Silent=True, AnalysisType="Classification")
    # and dataloader.PrepareTrainingAndTestTree(TCut(""), nTrain_Signal=0.8 * n, SplitMode="Random", ...)
    import uproot

    from tmvacompat import DataLoader, Factory, Types

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(2)
    with uproot.recreate("in.root") as f:
        for tree, mean in (("S", 0.8), ("B", -0.8)):
            f.mktree(tree, {"x": np.float32, "y": np.float32})
            f[tree].extend(
                {
                    "x": rng.normal(mean, 1, 500).astype(np.float32),
                    "y": rng.normal(0, 1, 500).astype(np.float32),
                }
            )
    factory = Factory(
        "TMVAClassification", "out.root", V=False, ROC=True, Silent=True, AnalysisType="Classification"
    )
    assert (
        factory.options.Silent
        and not factory.options.V
        and str(factory.options.AnalysisType) == "Classification"
    )
    loader = DataLoader("dataset")
    loader.AddVariable("x", "F")
    loader.AddVariable("y", "F")
    loader.AddSignalTree("in.root:S")
    loader.AddBackgroundTree("in.root:B")
    loader.PrepareTrainingAndTestTree(
        "",
        nTrain_Signal=0.8 * 500,
        nTrain_Background=0.8 * 500,
        SplitMode="Random",
        NormMode="NumEvents",
        V=False,
    )
    ds = loader.GetDataSet()
    assert len(ds.train) == 800 and len(ds.test) == 200
    # a cut plus an option string plus keywords: the keywords extend the option string
    loader.PrepareTrainingAndTestTree("x > -5", "SplitMode=Block", nTrain_Signal=300, nTrain_Background=300)
    assert len(loader.GetDataSet().train) == 600
    factory.BookMethod(
        loader, Types.kDL, "DL", "!H:!V:Layout=TANH|4,LINEAR:TrainingStrategy=MaxEpochs=2,BatchSize=20"
    )
