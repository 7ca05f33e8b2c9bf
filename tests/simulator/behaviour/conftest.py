"""Fixtures for the hvsim behaviour tests: a fresh demo lab on a manual clock, and ``call``.

``call`` runs one handler directly with a BoundCommand (canonical parameter names), the way the
engine dispatches; ``pipe`` goes through ``Engine.run_pipeline`` when the engine is available.
"""

from __future__ import annotations

import os
import sys
import typing as t

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from behaviour_support import Caller, Piper  # noqa: E402
from hvsim.lab import load_lab  # noqa: E402
from hvsim.model import ManualClock  # noqa: E402


@pytest.fixture
def pipe(lab: t.Any) -> Piper:
    return Piper(lab)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_796_000_000.0)


@pytest.fixture
def lab(clock: ManualClock) -> t.Any:
    return load_lab("demo", clock=clock, time_scale=0.0)


@pytest.fixture
def call(lab: t.Any) -> Caller:
    return Caller(lab)
