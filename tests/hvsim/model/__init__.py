"""The pure Hyper-V model behind hvsim (see docs/hvsim.md)."""

from .clock import ManualClock, RealClock
from .core import DEFAULT_COSTS, DEFAULT_SWITCHES, FAULT_KINDS, Lab, Op, as_datetime, default_integration
from .errors import ModelError
from .wildcard import has_wildcards, wildcard_match

__all__ = [
    "DEFAULT_COSTS", "DEFAULT_SWITCHES", "FAULT_KINDS", "Lab", "ManualClock", "ModelError", "Op", "RealClock",
    "as_datetime", "default_integration", "has_wildcards", "wildcard_match",
]
