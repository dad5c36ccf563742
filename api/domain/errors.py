"""Expected failures a user can cause. Resolvers turn them into payload ``errors``."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    CONFLICT = "CONFLICT"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    THROTTLED = "THROTTLED"  # too many failed logins: try again after the payload's wait
    PROVIDER_REFUSED = "PROVIDER_REFUSED"  # a payment provider said no (declined, bad app)
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"  # a payment provider could not be reached


class DomainError(Exception):
    """One expected failure; several may be raised together through :class:`DomainErrors`."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple:
        # rebuilt from its attributes, whatever a subclass's constructor takes: an import's
        # worker process hands its errors back pickled
        return (_rebuilt, (type(self), self.args), self.__dict__)


def _rebuilt(cls: type[Exception], args: tuple) -> Exception:
    error = cls.__new__(cls)
    error.args = args
    return error


class DomainErrors(Exception):
    def __init__(self, errors: list[DomainError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def not_found(what: str, field: str | None = "id") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field)


def invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, message, field)
