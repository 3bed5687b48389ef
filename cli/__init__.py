"""The ``trilha`` command: a thin adapter over :class:`ledger.service.Ledger`."""
