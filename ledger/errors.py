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


def N_(message: str) -> str:  # the gettext convention for "translate later"
    """Marks a message for the catalogs without translating it here (the core has no
    language): each adapter translates it in its user's language."""
    return message


# What each rule means to a person (not a programmer), keyed by the rule codes that
# RuleViolation carries; the CLI and the web show it beside the precise message.
RULE_MEANINGS: dict[str, str] = {
    "custodian_only": N_("only the lot's current custodian can move it"),
    "lot_active": N_("this lot was already used (split, merged, processed, dispatched or "
                     "exhausted)"),
    "lot_exists": N_("no lot with this code: check the code on the label or in the list of "
                     "lots"),
    "lot_unique": N_("a lot with this code already exists: choose a new code"),
    "split_sums_to_100_percent": N_("the benefit shares must add up to exactly 100%"),
    "split_sums_to_price": N_("the benefit amounts must add up to exactly the price"),
    "split_conserves_quantity": N_("the parts must add up to exactly the lot's quantity"),
    "merge_same_product": N_("only lots of the same product and unit can be merged"),
    "yield_out_of_range": N_("the output quantity is outside the catalogue's yield range"),
    "receiver_only": N_("only the actor the lot was dispatched to can receive it"),
    "signer_authorised": N_("the key that signed is not a valid key of this actor"),
    "event_id_unique": N_("this event was already recorded"),
    "unit_matches_product": N_("use the product's unit of measure"),
    "product_known": N_("unknown product: use a product code from the catalogue"),
}
