"""symzoo's typed errors: callers dispatch on the class, never on message text.

Every class also derives from the builtin that the same failure raised before
(ValueError, TypeError, FileNotFoundError, RuntimeError), so existing
``except ValueError`` code keeps working.
"""


class HyperparameterError(TypeError, ValueError):
    """A zoo constructor got a hyperparameter it does not accept.

    A TypeError (like Python's "unexpected keyword argument") and a ValueError
    (a bad argument value, so the CLI reports it as a usage error).
    """


class MissingWeightsError(FileNotFoundError):
    """A zoo model's pretrained weights are not where they are looked for.

    The message says how to produce them (``symzoo reproduce NAME``).
    """


class BackendError(RuntimeError):
    """An operation needs a Keras backend other than the active one."""


__all__ = ["BackendError", "HyperparameterError", "MissingWeightsError"]
