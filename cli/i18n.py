"""Messages of the command line in en, pt-BR and es (gettext catalogs under cli/locale).

The core's error messages stay in English (they name fields and rules exactly); the CLI
adds, in the user's language, what the rule means and what to do.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from ledger.errors import RULE_MEANINGS

LOCALE_DIR = Path(__file__).with_name("locale")
GETTEXT_LANG = {"pt-BR": "pt_BR", "es": "es", "en": "en"}

@cache
def translator(lang: str) -> gettext.NullTranslations:
    code = GETTEXT_LANG.get(lang, "en")
    return gettext.translation("trilha", localedir=LOCALE_DIR, languages=[code], fallback=True)


def translate(message: str, lang: str) -> str:
    return translator(lang).gettext(message)


def rule_hint(rule: str | None, lang: str) -> str | None:
    hint = RULE_MEANINGS.get(rule or "")
    return translate(hint, lang) if hint else None
