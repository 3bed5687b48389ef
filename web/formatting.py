"""Words and numbers in the visitor's language: money, quantities, roles and what
happened at a step. Shared by the public pages, the workspace and the dashboards."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _

from ledger.domain.measures import UNIT_SYMBOLS, currency_exponent


def role_names() -> dict[str, str]:
    """Beneficiary roles in the visitor's language (literal calls, so they are extracted)."""
    return {
        "harvesters": _("Harvesters"), "harvester": _("Harvester"),
        "community_fund": _("Community fund"),
        "community_association": _("Community association"), "community": _("Community"),
        "cooperative": _("Cooperative"), "processor": _("Processor"), "trader": _("Trader"),
        "transport": _("Transport"), "other": _("Other"),
    }


def money(amount: int, currency: str) -> str:
    major = Decimal(amount).scaleb(-currency_exponent(currency))
    return str(format_currency(major, currency, locale=str(get_locale())))


def quantity(value: str | Decimal, unit: str) -> str:
    number = format_decimal(Decimal(value), locale=str(get_locale()))
    return f"{number} {UNIT_SYMBOLS.get(unit, unit)}"


def step_verbs() -> dict[str, str]:
    """What happened at a step, in a word (the workspace's recent activity)."""
    return {"lot.harvested": _("harvested"), "lot.dispatched": _("dispatched"),
            "lot.received": _("received"), "lot.refused": _("refused"),
            "lot.split": _("split"), "lots.merged": _("merged"),
            "lot.transformed": _("processed"), "lot.adjusted": _("loss recorded")}


def step_kind_names() -> dict[str, str]:
    return {"lot.harvested": _("harvests"), "lot.dispatched": _("sales"),
            "lot.received": _("receipts"), "lot.refused": _("refusals"),
            "lot.split": _("splits"), "lots.merged": _("merges"),
            "lot.transformed": _("processing steps"), "lot.adjusted": _("losses")}
