"""Helpers for the protocol tests: a server on a fake engine, and client builders (real clients only)."""

from __future__ import annotations

import os
import sys
import typing as t

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from protocol_fakes import FakeEngine  # noqa: E402

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")  # the clients use requests' env proxies otherwise


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def sim(hvsim_factory: t.Callable[..., t.Any], fake_engine: FakeEngine) -> t.Any:
    """A one-host server (``hv01``) on the fake engine, HTTP + HTTPS, the collection's real runner."""
    return hvsim_factory(None, engine=fake_engine, hosts=["hv01"])
