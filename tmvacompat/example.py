"""The built-in example: TMVAClassification's DL booking, end to end, on generated data in a real ROOT file.

1. Generates a tutorial-like data set (four correlated Gaussian variables, signal shifted and with a
   non-linear boundary, per-event weights) and writes it with uproot as ``tmva_example_input.root``
   (trees ``TreeS`` and ``TreeB``, like ROOT's ``tmva_class_example.root``).
2. Books the TMVAClassification tutorial's DL method (``myvar1 := var1+var2``, ``myvar2 := var1-var2``,
   ``var3``, ``var4``; ``Layout=TANH|128,TANH|128,TANH|128,LINEAR``, the tutorial's TrainingStrategy).
3. Trains, tests and evaluates; writes ``TMVA.root`` and the weight file
   ``dataset/weights/TMVAClassification_DNN_CPU.weights.xml``.
4. Reads the weight file back with :func:`tmvacompat.load_weights`, checks it reproduces the TestTree
   values, and prints the ROC integral.

Example:
    >>> from tmvacompat.example import run_example          # doctest: +SKIP
    >>> run_example("tmvacompat_example")                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import time

import numpy as np

from tmvacompat.atomicfile import atomic_path

DL_OPTIONS = (
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=N:WeightInitialization=XAVIERUNIFORM:RandomSeed=1234:"
    "Layout=TANH|128,TANH|128,TANH|128,LINEAR:"
    "TrainingStrategy=LearningRate=1e-2,Momentum=0.9,ConvergenceSteps=20,BatchSize=100,TestRepetitions=1,"
    "WeightDecay=1e-4,Regularization=None,DropConfig=0.0+0.5+0.5+0.5,MaxEpochs=200:Architecture=CPU"
)


def generate_input(path: str, n_events: int = 10000, seed: int = 42) -> str:
    """Write a tutorial-like classification input (``TreeS``/``TreeB``: var1..var4, weight) with uproot."""
    import uproot

    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.5, 0.3, 0.2], [0.5, 1.0, 0.4, 0.3], [0.3, 0.4, 1.0, 0.5], [0.2, 0.3, 0.5, 1.0]])

    def tree(shift: float, bend: float) -> dict[str, np.ndarray]:
        x = rng.multivariate_normal(np.full(4, shift), cov, size=n_events)
        x[:, 3] += bend * (x[:, 0] ** 2 - 1.0)  # a non-linear feature a linear cut cannot use fully
        out = {f"var{i + 1}": x[:, i].astype(np.float32) for i in range(4)}
        out["weight"] = rng.uniform(0.5, 1.5, n_events).astype(np.float32)
        return out

    with atomic_path(path, what="example input file") as tmp, uproot.recreate(tmp) as f:
        for name, data in (("TreeS", tree(0.5, 0.5)), ("TreeB", tree(-0.5, -0.5))):
            f.mktree(name, {k: v.dtype for k, v in data.items()})  # a TTree, as ROOT writes (not an RNTuple)
            f[name].extend(data)
    return path


def run_example(workdir: str = "tmvacompat_example", n_train: int = 2000, quiet: bool = False) -> float:
    """Run the example in ``workdir``; returns the ROC integral on the test sample."""
    from tmvacompat.data.loader import DataLoader
    from tmvacompat.factory import Factory, Types
    from tmvacompat.weightfile import load_weights

    os.makedirs(workdir, exist_ok=True)
    here = os.getcwd()
    os.chdir(workdir)
    try:
        t0 = time.perf_counter()
        generate_input("tmva_example_input.root")
        factory = Factory(
            "TMVAClassification",
            "TMVA.root",
            f"!V:{'Silent' if quiet else '!Silent'}:Color:DrawProgressBar:AnalysisType=Classification",
        )
        loader = DataLoader("dataset")
        loader.AddVariable("myvar1 := var1+var2", "F")
        loader.AddVariable("myvar2 := var1-var2", "Expression 2", "", "F")
        loader.AddVariable("var3", "Variable 3", "units", "F")
        loader.AddVariable("var4", "Variable 4", "units", "F")
        loader.AddSpectator("spec1 := var1*2", "Spectator 1", "units", "F")
        loader.AddSpectator("spec2 := var1*3", "Spectator 2", "units", "F")
        loader.AddSignalTree("tmva_example_input.root:TreeS", 1.0)
        loader.AddBackgroundTree("tmva_example_input.root:TreeB", 1.0)
        loader.SetBackgroundWeightExpression("weight")
        loader.PrepareTrainingAndTestTree(
            "",
            "",
            f"nTrain_Signal={n_train}:nTrain_Background={n_train}:SplitMode=Random:NormMode=NumEvents:!V",
        )
        method = factory.BookMethod(loader, Types.kDL, "DNN_CPU", DL_OPTIONS)
        factory.TrainAllMethods()
        factory.TestAllMethods()
        factory.EvaluateAllMethods()
        roc = factory.GetROCIntegral(loader, "DNN_CPU")

        # the weight file alone reproduces what the Factory wrote into TestTree
        ds = loader.GetDataSet()
        again = load_weights(method.weight_file).evaluate(ds.test.X)
        import uproot

        with uproot.open("TMVA.root") as f:  # what the Factory wrote, read back independently
            written = f["dataset/TestTree"]["DNN_CPU"].array(library="np")
        same = bool(np.array_equal(again.astype(np.float32), written))
        print(
            f"weight file        : {os.path.join(workdir, method.weight_file)} (reproduces TestTree: {same})"
        )
        print(f"output file        : {os.path.join(workdir, 'TMVA.root')}")
        print(f"total time         : {time.perf_counter() - t0:.1f} s")
        print(f"ROC integral (test): {roc:.4f}")
        return roc
    finally:
        os.chdir(here)
