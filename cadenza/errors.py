"""The few domain exceptions every layer shares; faces translate them (HTTP status, CLI exit code)."""


class CadenzaError(Exception):
    """Base class; `category` is what a job record stores as its error category."""

    category = "internal"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InputError(CadenzaError):
    """The request cannot be honoured as given; the message says what is accepted."""

    category = "input"


class EngineUnavailable(CadenzaError):
    """The engine cannot run here (missing package, weights or memory); the message says how to fix it."""

    category = "unavailable"


class OutOfMemory(EngineUnavailable):
    """The model does not fit in the memory left (the gate before loading, or the GPU during a run).
    A budgeted job is retried once with memory savers on (tiling, CPU offload)."""

    category = "memory"


class OutOfTime(CadenzaError):
    """The run went past the job's time budget (raised at the engine's next step check).
    A budgeted job is retried once with double the budget."""

    category = "timeout"


class EngineError(CadenzaError):
    """The engine failed while running a valid request."""

    category = "engine"


class Cancelled(CadenzaError):
    """The job was cancelled; raised by `RunContext.check_cancelled`."""

    category = "cancelled"


class NotFound(CadenzaError):
    """No job, artifact or upload has that id."""

    category = "not_found"


class UnknownReference(InputError):
    """An input names an id that no job, artifact or upload has (HTTP 404: the thing referred to is missing)."""

    category = "not_found"


class QueueFull(CadenzaError):
    """The queue is at its maximum depth; retry later."""

    category = "queue_full"


class Conflict(CadenzaError):
    """The request conflicts with the job's current state (e.g. deleting a running job)."""

    category = "conflict"
