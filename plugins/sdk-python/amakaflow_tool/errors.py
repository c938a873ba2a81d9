"""The error a tool reports on purpose, in the original service's shape: the model receives
`{"error": true, "code": <code>, "message": <message>}` with `is_error: true`. Raise it from a tool
function; any other exception is a bug and ends the call as the host's `plugin_trap`."""


class codes:
    """The error codes of the original service and the SDK's own (as `codes` in the Rust SDK)."""

    VALIDATION_ERROR = "validation_error"
    EXECUTION_ERROR = "execution_error"
    INTERNAL_ERROR = "internal_error"
    NOT_FOUND = "not_found"
    CONFIRMATION_REQUIRED = "confirmation_required"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    FEATURE_DISABLED = "feature_disabled"
    STATE_QUOTA_EXCEEDED = "state_quota_exceeded"


class ToolError(Exception):
    """A failure shown to the model. `code` is `[a-z0-9_]{1,64}` (others reach it as `plugin_error`)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def validation(cls, message: str) -> "ToolError":
        """The arguments make no sense (beyond what the schema checks)."""
        return cls(codes.VALIDATION_ERROR, message)

    @classmethod
    def execution(cls, message: str) -> "ToolError":
        """The work could not be done (a downstream failure, usually)."""
        return cls(codes.EXECUTION_ERROR, message)

    @classmethod
    def internal(cls, message: str) -> "ToolError":
        """A bug or a misconfiguration of the plugin."""
        return cls(codes.INTERNAL_ERROR, message)

    @classmethod
    def not_found(cls, message: str) -> "ToolError":
        return cls(codes.NOT_FOUND, message)
