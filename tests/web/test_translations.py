"""Every page string has a reviewed translation in each language, and the compiled
catalogues the app loads are the ones built from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"
LANGUAGES = ("pt_BR", "es", "fr")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(lang: str) -> None:
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = () if found is None else (
            found.string if isinstance(found.string, tuple) else (found.string,))
        if found is None or found.fuzzy or not strings or not all(strings):
            missing.append(message.id)
    assert not missing, f"{lang}: untranslated {missing[:5]}"
    with (folder / "messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    stale = [m.id for m in catalog if m.id and compiled.get(m.id) is None]
    assert not stale, f"{lang}: messages.mo is older than messages.po ({stale[:3]})"


def test_the_template_holds_every_string_of_the_code(tmp_path: Path) -> None:
    out = tmp_path / "messages.pot"
    root = TRANSLATIONS.parents[1]
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(root / "babel.cfg"), "-k", "lazy_gettext", "-k", "_l", "-k", "N_", "-o",
                    str(out), str(root / "web"), str(root / "ledger" / "errors.py")],
                   check=True, cwd=root, capture_output=True)
    with out.open("rb") as handle:
        fresh = {m.id for m in read_po(handle) if m.id}
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        kept = {m.id for m in read_po(handle) if m.id}
    assert fresh <= kept, f"run pybabel extract: new strings {sorted(map(str, fresh - kept))[:5]}"
