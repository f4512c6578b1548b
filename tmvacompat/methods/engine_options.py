"""Engine errors as TMVA option errors.

The engine knows its own parameters (``optimizer``, ``drop_probs``, ...), not TMVA's option names; when it
refuses a setting it raises :class:`~tmvacompat.errors.EngineConfigError`. The methods turn TMVA options into
engine calls, so they are where such an error gets the name of the option the user wrote:
:func:`option_error` builds the :class:`~tmvacompat.errors.OptionError`, :func:`tmva_option_errors` re-raises
inside a ``with`` block.

Example:
    >>> from tmvacompat.errors import EngineConfigError
    >>> err = EngineConfigError("drop probability 1 is 1.5; it must be in [0, 1)", parameter="drop_probs",
    ...                         value=1.5, index=1, expected=["0 <= p < 1"])
    >>> opt = option_error(err, "DL")
    >>> opt.where, opt.token
    ("method 'DL'", 'DropConfig')
    >>> print(opt.message)
    TrainingStrategy DropConfig entry 1 is 1.5; a drop probability must be in [0, 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tmvacompat.errors import EngineConfigError, OptionError

#: engine parameter (``EngineConfigError.parameter``) -> the TMVA option that sets it
ENGINE_PARAMETER_OPTIONS: dict[str, str] = {
    "initialization": "WeightInitialization",
    "loss": "ErrorStrategy",
    "optimizer": "Optimizer",
    "regularization": "Regularization",
    "optimizer_params": "<optimizer>_<parameter>",  # the key itself: ADAM_beta1, RMSPROP_rho, ...
    "drop_probs": "DropConfig",
}
#: TMVA's ErrorStrategy values (what the engine's loss names mean to a TMVA user)
_ERROR_STRATEGIES = ["CROSSENTROPY", "SUMOFSQUARES", "MUTUALEXCLUSIVE"]


def option_error(err: EngineConfigError, title: str) -> OptionError:
    """The :class:`OptionError` naming the TMVA option behind the engine setting ``err`` refused, for the
    method ``title``.

    >>> from tmvacompat.errors import EngineConfigError
    >>> e = EngineConfigError("unknown ADAM parameter 'ADAM_beta3'", parameter="optimizer_params",
    ...                       value="ADAM_beta3", expected=["ADAM_beta1", "ADAM_beta2", "ADAM_eps"])
    >>> print(option_error(e, "DL").message)
    TrainingStrategy key 'ADAM_beta3' is not a parameter of the phase's optimizer
    """
    where = f"method {title!r}"
    p, v = err.parameter, err.value
    if p == "drop_probs":
        return OptionError(
            f"TrainingStrategy DropConfig entry {err.index} is {v}; a drop probability must be in [0, 1)",
            token="DropConfig",
            expected=err.expected,
            where=where,
        )
    if p == "optimizer_params":
        return OptionError(
            f"TrainingStrategy key {str(v)!r} is not a parameter of the phase's optimizer",
            token=str(v),
            expected=err.expected,
            where=where,
        )
    if p in ("optimizer", "regularization"):
        key = ENGINE_PARAMETER_OPTIONS[p]
        return OptionError(
            f"TrainingStrategy {key}={v} is not a {p} the engine has",
            token=f"{key}={v}",
            expected=err.expected,
            where=where,
        )
    if p == "initialization":
        return OptionError(
            f"WeightInitialization={v} is not a weight initialisation the engine has",
            token=f"WeightInitialization={v}",
            expected=err.expected,
            where=where,
        )
    if p == "loss":
        return OptionError(
            f"ErrorStrategy: the engine has no loss {v!r}",
            token="ErrorStrategy",
            expected=_ERROR_STRATEGIES,
            where=where,
        )
    # a setting no TMVA option reaches: the engine's own words
    return OptionError(f"{err.message} (engine parameter {p!r})", token=err.token, expected=err.expected,
                       where=where)  # fmt: skip


@contextmanager
def tmva_option_errors(title: str) -> Iterator[None]:
    """Re-raise an :class:`EngineConfigError` from the block as the :func:`option_error` of method
    ``title``.

    >>> from tmvacompat.engine.optimizers import optimizer_code
    >>> try:
    ...     with tmva_option_errors("DL"):
    ...         optimizer_code("ADAMM")
    ... except OptionError as err:
    ...     print(err.token)
    Optimizer=ADAMM
    """
    try:
        yield
    except EngineConfigError as err:
        raise option_error(err, title) from err


__all__ = ["ENGINE_PARAMETER_OPTIONS", "option_error", "tmva_option_errors"]
