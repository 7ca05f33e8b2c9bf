"""The PSRP session resolves proxies once: each message goes where requests would have sent it."""

from __future__ import annotations

import pytest
import requests
from pypsrp.wsman import WSMan
from requests.utils import resolve_proxies, select_proxy

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _psrp

ENDPOINT = "https://hv01.example.test:5986/wsman"


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"HTTPS_PROXY": "http://proxy.example.test:3128"}, "http://proxy.example.test:3128"),
    ({"HTTPS_PROXY": "http://proxy.example.test:3128", "NO_PROXY": ".example.test"}, None),
    ({"ALL_PROXY": "http://all.example.test:8080"}, "http://all.example.test:8080"),
    ({"HTTP_PROXY": "http://plain.example.test:80"}, None),  # an https endpoint ignores HTTP_PROXY
])
def test_each_message_uses_the_proxy_the_environment_chose(env, expected, monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    wsman = WSMan("hv01.example.test", port=5986, ssl=True, auth="ntlm", username="u", password="p",
                  cert_validation=True)
    wsman.transport.session = wsman.transport._build_session()
    request = wsman.transport.session.prepare_request(requests.Request("POST", ENDPOINT, data=b"x"))
    # what HTTPAdapter.send connects through: select_proxy over the proxies Session.send resolved
    before = select_proxy(ENDPOINT, resolve_proxies(request, wsman.transport.session.proxies,
                                                    wsman.transport.session.trust_env))

    assert _psrp.proxies_resolved_once(wsman) is True
    session = wsman.transport.session
    assert session.trust_env is False
    after = select_proxy(ENDPOINT, resolve_proxies(request, session.proxies, session.trust_env))
    assert after == before
    assert after == expected


def test_no_session_yet_is_left_alone():
    class Bare(object):
        transport = None

    assert _psrp.proxies_resolved_once(Bare()) is False
