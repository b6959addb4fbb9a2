"""The project's own exception types.

Invalid parameters raise the built-in ``ValueError``/``TypeError``; these types are for domain errors a user can fix:
a malformed model file, an unsupported layer, a plan that names a layer the model lacks. The CLI prints their message
as one line and exits non-zero, without a traceback.
"""


class RistrettoSimError(Exception):
    """Base class of every domain error raised by ristretto-sim."""


class FormatError(RistrettoSimError, ValueError):
    """A format string that does not parse, or a format that cannot represent what is asked of it."""


class ModelError(RistrettoSimError):
    """A model file that cannot be read, or a network that cannot be built (unsupported layer, bad shapes)."""


class PlanError(RistrettoSimError):
    """A quantization plan that is malformed or does not match its network."""


class DataError(RistrettoSimError):
    """A dataset that is missing or malformed."""


class ConfigError(RistrettoSimError):
    """An accelerator description (or SCALE-Sim file) that is malformed."""
