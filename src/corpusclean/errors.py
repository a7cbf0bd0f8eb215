"""The errors a user's request can meet: usage errors the CLI reports with exit code 2.

A module of their own, importing nothing, so that modules which raise or
subclass them (``overrides``) need not import :mod:`corpusclean.audit` and
DuckDB with it: the flow's process imports ``overrides`` and never queries.
"""


class AuditError(Exception):
    """The output directory or an id the user gave is not usable: a usage error (exit code 2)."""


class UnknownId(AuditError, LookupError):
    """No paragraph, cluster, source or edit has the id the user gave."""
