"""The logs UI keeps no tables of its own. It registers the analytics rollups: a model of the
gateway app (gateway/rollups.py, table gateway_rollup, migration gateway 0012), defined beside
the log writer that fills it and imported here so that Django knows it at start-up."""

from gateway.rollups import Rollup

__all__ = ["Rollup"]
