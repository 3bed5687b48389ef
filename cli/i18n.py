"""Messages of the command line in en, pt-BR and es (gettext catalogs under cli/locale).

The core's error messages stay in English (they name fields and rules exactly); the CLI
adds, in the user's language, what the rule means and what to do.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
GETTEXT_LANG = {"pt-BR": "pt_BR", "es": "es", "en": "en"}

# What each rule means, for the person at the terminal (msgids, translated in the catalogs).
RULE_HINTS = {
    "custodian_only": "only the lot's current custodian can move it",
    "lot_active": "this lot was already used (split, merged, processed, dispatched or exhausted)",
    "lot_exists": "no lot with this code: check the code with 'trilha lot list'",
    "lot_unique": "a lot with this code already exists: choose a new code",
    "split_sums_to_100_percent": "the benefit shares must add up to exactly 100%",
    "split_sums_to_price": "the benefit amounts must add up to exactly the price",
    "split_conserves_quantity": "the parts must add up to exactly the lot's quantity",
    "merge_same_product": "only lots of the same product and unit can be merged",
    "yield_out_of_range": "the output quantity is outside the catalogue's yield range",
    "receiver_only": "only the actor the lot was dispatched to can receive it",
    "signer_authorised": "the key that signed is not a valid key of this actor",
    "event_id_unique": "this event was already recorded",
    "unit_matches_product": "use the product's unit of measure",
    "product_known": "unknown product: see 'trilha product list'",
}


@cache
def translator(lang: str) -> gettext.NullTranslations:
    code = GETTEXT_LANG.get(lang, "en")
    return gettext.translation("trilha", localedir=LOCALE_DIR, languages=[code], fallback=True)


def translate(message: str, lang: str) -> str:
    return translator(lang).gettext(message)


def rule_hint(rule: str | None, lang: str) -> str | None:
    hint = RULE_HINTS.get(rule or "")
    return translate(hint, lang) if hint else None
