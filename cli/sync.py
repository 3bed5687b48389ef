"""Commands of the `trilha` CLI (see cli/main.py for the list)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
