"""pytest plugin: ``hvsim`` (the demo lab behind real WinRM listeners) and ``hvsim_factory``.

Enable with ``pytest_plugins = ["hvsim.fixture"]`` (tests/conftest.py does it)::

    def test_get_vm(hvsim):
        wsman = WSMan("127.0.0.1", port=hvsim.port("HV01", "https"), auth="ntlm",
                      username=hvsim.username, password=hvsim.password,
                      cert_validation=hvsim.ca_path, no_proxy=True)

    def test_custom(hvsim_factory):
        sim = hvsim_factory(lab="fleet", https=False, allow_unencrypted=True)
        sim = hvsim_factory(engine=my_fake_engine, hosts=["hv01"])   # no model at all

Everything binds to 127.0.0.1 on free ports; teardown stops listeners, connections and
worker threads.
"""

from __future__ import annotations

import typing as t

import pytest

from hvsim.faults import FaultPlan
from hvsim.server import HvsimServer


class HvsimHandle:
    """What a test gets: URLs, credentials, CA, the lab/engine, stats, digest and faults."""

    def __init__(self, server: HvsimServer) -> None:
        self.server = server
        self.lab = server.lab
        self.engine = server.engine

    # endpoints
    @property
    def hosts(self) -> t.List[str]:
        return list(self.server.hosts)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def username(self) -> str:
        return self.server.username

    @property
    def password(self) -> str:
        return self.server.password

    @property
    def ca_path(self) -> t.Optional[str]:
        return self.server.ca_path

    @property
    def control_token(self) -> str:
        return self.server.control_token

    @property
    def state_dir(self) -> str:
        return self.server.state_dir

    def url(self, host: t.Optional[str] = None, scheme: str = "https") -> str:
        return self.server.url(host, scheme)

    def http_url(self, host: t.Optional[str] = None) -> str:
        return self.server.url(host, "http")

    def https_url(self, host: t.Optional[str] = None) -> str:
        return self.server.url(host, "https")

    def port(self, host: t.Optional[str] = None, scheme: str = "https") -> int:
        return self.server.port(host, scheme)

    def endpoints(self) -> t.Dict[str, t.Any]:
        return self.server.endpoints()

    # inspection
    def digest(self) -> str:
        return self.server.digest()

    def state(self) -> t.Any:
        return self.server.state()

    def stats(self) -> t.Dict[str, t.Any]:
        return self.server.stats()

    def reset_stats(self) -> None:
        self.server.reset_stats()

    def open_shells(self, host: t.Optional[str] = None, user: t.Optional[str] = None) -> int:
        return self.server.open_shell_count(host, user)

    # faults
    @property
    def faults(self) -> FaultPlan:
        return self.server.faults

    def inject_fault(self, kind: str, **params: t.Any) -> None:
        self.server.inject_fault(kind, **params)

    def clear_faults(self) -> None:
        self.server.faults.clear()


def start_hvsim(
    lab: t.Any = "demo",
    *,
    engine: t.Any = None,
    state_dir: t.Optional[str] = None,
    time_scale: float = 0.0,
    lab_params: t.Optional[t.Dict[str, t.Any]] = None,
    **server_kwargs: t.Any,
) -> HvsimServer:
    """Build (lab, engine) and start a server; ``lab`` is a name/path, a Lab object or None (with ``engine``)."""
    lab_obj = lab
    if isinstance(lab, str) and engine is None:
        from hvsim.lab import load_lab  # lazy: owned by the model helper

        lab_obj = load_lab(lab, state_dir=state_dir, time_scale=time_scale, **(lab_params or {}))
    elif isinstance(lab, str):
        lab_obj = None
    server = HvsimServer(engine=engine, lab=lab_obj, state_dir=state_dir, **server_kwargs)
    return server.start()


@pytest.fixture
def hvsim_factory(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Callable[..., HvsimHandle]]:
    servers: t.List[HvsimServer] = []

    def factory(lab: t.Any = "demo", **kwargs: t.Any) -> HvsimHandle:
        kwargs.setdefault("state_dir", str(tmp_path_factory.mktemp("hvsim")))
        server = start_hvsim(lab, **kwargs)
        servers.append(server)
        return HvsimHandle(server)

    try:
        yield factory
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def hvsim(hvsim_factory: t.Callable[..., HvsimHandle]) -> HvsimHandle:
    """The demo lab, time_scale 0, HTTP and HTTPS listeners per host."""
    return hvsim_factory("demo")
