"""The cwbulk exception tree. Every class carries the exit code the CLI turns it into.

CwbulkError                  2  anything cwbulk reports as a clean message
├── UsageError               2  options that don't fit together, or a bad value
├── ConfigError              2  no profile, a bad profile file, missing credentials
├── InputError               2  a file that can't be read at all (missing, corrupt, empty)
├── ConnectionFailed         2  the site can't be reached (DNS, refused, TLS, timeout)
├── WriteOutcomeUnknown      2  a create was sent but its answer was lost (5xx, dropped, timeout)
├── ApiError                 2  ConnectWise answered with an error
│   ├── AuthenticationFailed 2  401: wrong keys, company or missing clientId
│   ├── PermissionDenied     2  403: the API member's security role forbids it
│   ├── NotFound             2  404
│   ├── InvalidRequest       2  400: the body or query was rejected
│   ├── Conflict             2  409
│   ├── RateLimited          2  429 after every retry
│   └── ServerError          2  5xx after every retry
├── RowsFailed               1  the run finished, but some rows are invalid or failed
└── Interrupted            130  Ctrl-C; what was in flight has been recorded
"""

from __future__ import annotations


class CwbulkError(Exception):
    """Base of every error cwbulk reports as a message rather than a traceback."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class UsageError(CwbulkError):
    """Options that don't fit together, or an option value that makes no sense."""


class ConfigError(CwbulkError):
    """A missing or broken connection profile, or missing credentials."""


class InputError(CwbulkError):
    """An input file that can't be read at all."""


class ConnectionFailed(CwbulkError):
    """The ConnectWise site could not be reached."""


class WriteOutcomeUnknown(CwbulkError):
    """A POST was sent but its answer was lost, so whether it was written is unknown.

    Carries the request body, so the caller can look the record up (by ``mobileGuid``)
    before it decides to send it again.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        body: object,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.path = path
        self.body = body
        self.status = status


class ApiError(CwbulkError):
    """ConnectWise answered with an error status; carries its code, message and field."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        field: str | None = None,
        errors: list[dict] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.field = field
        self.errors = errors or []


class AuthenticationFailed(ApiError):
    """401: the company, keys or clientId were not accepted."""


class PermissionDenied(ApiError):
    """403: the API member's security role does not allow this."""


class NotFound(ApiError):
    """404: the record or URL does not exist."""


class InvalidRequest(ApiError):
    """400: ConnectWise rejected the request body or query."""


class Conflict(ApiError):
    """409: the record is in use or changed."""


class RateLimited(ApiError):
    """429: still throttled after every retry."""


class ServerError(ApiError):
    """5xx: still failing after every retry."""


class RowsFailed(CwbulkError):
    """The command finished, but some rows are invalid, failed or differ."""

    exit_code = 1


class Interrupted(CwbulkError):
    """Interrupted by the user; work in flight was finished and recorded."""

    exit_code = 130
