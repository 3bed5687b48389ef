"""Languages of the web pages: pt-BR, es, en and fr, by ?lang=, cookie or Accept-Language."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, get_locale

from web.formatting import money, quantity

LANGUAGES = {"pt_BR": "Português", "es": "Español", "en": "English", "fr": "Français"}
DEFAULT = "en"


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen:
        chosen = chosen.replace("-", "_")
        if chosen in LANGUAGES:
            return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
    # numbers and money in the visitor's locale, on every page
    app.jinja_env.globals["quantity"] = quantity
    app.jinja_env.globals["money"] = money
