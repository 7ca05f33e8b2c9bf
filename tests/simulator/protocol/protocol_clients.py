"""Real-client builders for the protocol tests (pypsrp WSMan, pywinrm Protocol) against a hvsim handle.

Kept out of conftest.py: test modules import these by a unique module name, because several
suites have a conftest.py and ``from conftest import`` would pick whichever was imported last.
"""

from __future__ import annotations

import typing as t


def psrp_wsman(sim: t.Any, *, scheme: str = "http", auth: str = "ntlm", password: t.Optional[str] = None,
               encryption: str = "auto", host: str = "hv01", operation_timeout: int = 5, **kwargs: t.Any) -> t.Any:
    from pypsrp.wsman import WSMan

    return WSMan(
        "127.0.0.1",
        port=sim.port(host, scheme),
        ssl=scheme == "https",
        auth=auth,
        username=kwargs.pop("username", sim.username),
        password=password if password is not None else sim.password,
        encryption=encryption,
        cert_validation=kwargs.pop("cert_validation", sim.ca_path if scheme == "https" else True),
        no_proxy=True,
        operation_timeout=operation_timeout,
        read_timeout=operation_timeout + 10,
        connection_timeout=10,
        **kwargs,
    )


def winrm_protocol(sim: t.Any, *, scheme: str = "http", transport: str = "ntlm", password: t.Optional[str] = None,
                   host: str = "hv01", operation_timeout: int = 5, **kwargs: t.Any) -> t.Any:
    import winrm

    if scheme == "https":
        kwargs.setdefault("ca_trust_path", sim.ca_path)
        kwargs.setdefault("server_cert_validation", "validate")
    return winrm.protocol.Protocol(
        sim.url(host, scheme),
        transport=transport,
        username=kwargs.pop("username", sim.username),
        password=password if password is not None else sim.password,
        operation_timeout_sec=operation_timeout,
        read_timeout_sec=operation_timeout + 10,
        **kwargs,
    )
