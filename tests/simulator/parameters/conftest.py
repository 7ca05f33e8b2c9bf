"""Fixtures for the engine-level parameter binding suite: a stub handler registry, no network."""

from __future__ import annotations

import pytest

from hvsim.engine.engine import Engine
from param_stubs import Recorder


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(rec: Recorder) -> Engine:
    return Engine(lab=None, handlers=rec)  # type: ignore[arg-type]
