"""One error tree for the whole ledger.

Adapters catch :class:`LedgerError` once: the web maps the subclasses to HTTP codes, the
CLI to one clean line and an exit code. Messages are short and lower-case, name the
lot, the field and the rule, and say "expected X, got Y". They never carry key material.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None, lot: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.lot = lot

    def as_dict(self) -> dict[str, str]:
        out = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.lot is not None:
            out["lot"] = self.lot
        return out


class EncodingError(LedgerError):
    """Bytes or JSON that cannot be decoded or canonicalised."""

    code = "encoding_error"


class ValidationError(LedgerError):
    """Input whose shape is wrong (a field missing, of the wrong type or format)."""

    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None, lot: str | None = None,
                 errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message, field=field, lot=lot)
        self.errors = errors or ({field: [message]} if field else {})


class RuleViolation(LedgerError):
    """An event that is well formed but breaks a ledger rule (custody, mass balance...)."""

    code = "rule_violation"

    def __init__(self, rule: str, message: str, *, field: str | None = None,
                 lot: str | None = None) -> None:
        super().__init__(message, field=field, lot=lot)
        self.rule = rule

    def as_dict(self) -> dict[str, str]:
        out = super().as_dict()
        out["rule"] = self.rule
        return out


class SignatureError(RuleViolation):
    """A missing, invalid or untimely signature."""

    code = "signature_error"


class ReplayError(RuleViolation):
    """An event id that the ledger has already accepted."""

    code = "replay"


class VerificationError(LedgerError):
    """A proof, checkpoint or chain that does not verify."""

    code = "verification_error"


class NotFound(LedgerError):
    code = "not_found"


class Conflict(LedgerError):
    """A concurrent change won the race; retrying may succeed."""

    code = "conflict"


class ConfigurationError(LedgerError):
    code = "configuration_error"
