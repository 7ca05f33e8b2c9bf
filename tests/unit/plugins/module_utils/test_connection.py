"""Connection option rules (refusals, warnings, defaults) and doc fragment / argspec parity."""

from __future__ import annotations

import yaml
import pytest

from ansible_collections.hyperv.checkpoints.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import (
    build_connection_options,
    connection_argument_spec,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._errors import ConfigurationError

BASE = dict(hyperv_host="hv01.example.com", hyperv_username="EXAMPLE\\ansible", hyperv_password="S3cret!")


def build(**params):
    merged = dict(BASE)
    merged.update(params)
    return build_connection_options(merged)


def build_options(**params):
    return build(**params)[0]


@pytest.mark.parametrize(
    "params, port",
    [({}, 5986), ({"hyperv_scheme": "https"}, 5986), ({"hyperv_scheme": "http"}, 5985),
     ({"hyperv_scheme": "http", "hyperv_port": 8080}, 8080)],
)
def test_port_follows_scheme(params, port):
    options = build_options(**params)
    assert options.port == port
    assert options.endpoint.endswith(":%d/wsman" % port)


def test_defaults_are_secure():
    options, warnings = build()
    assert options.scheme == "https"
    assert options.auth == "negotiate"
    assert options.validate_certs is True
    assert options.cert_validation is True
    assert options.transport == "psrp"
    assert options.encryption == "auto"
    assert options.connection_retries == 0
    assert warnings == []


def test_basic_over_http_is_refused_with_reason():
    with pytest.raises(ConfigurationError) as err:
        build(hyperv_scheme="http", hyperv_auth="basic")
    text = str(err.value)
    assert "Refusing Basic authentication over HTTP" in text
    assert "hyperv_allow_unencrypted_http" in text
    assert "S3cret!" not in text


def test_basic_over_http_with_opt_in_warns_and_disables_encryption():
    options, warnings = build(hyperv_scheme="http", hyperv_auth="basic", hyperv_allow_unencrypted_http=True)
    assert options.encryption == "never"
    assert any("unencrypted" in w for w in warnings)


def test_basic_over_https_is_fine():
    options, warnings = build(hyperv_auth="basic", hyperv_ca_path="/ca.pem")
    assert options.cert_validation == "/ca.pem"
    assert warnings == []


def test_basic_always_encryption_impossible():
    with pytest.raises(ConfigurationError):
        build(hyperv_scheme="http", hyperv_auth="basic", hyperv_message_encryption="always",
              hyperv_allow_unencrypted_http=True)
    with pytest.raises(ConfigurationError):
        build(hyperv_auth="basic", hyperv_message_encryption="always")


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "kerberos", "credssp"])
def test_never_encryption_over_http_refused_unless_opt_in(auth):
    with pytest.raises(ConfigurationError) as err:
        build(hyperv_scheme="http", hyperv_auth=auth, hyperv_message_encryption="never")
    assert "Refusing hyperv_message_encryption=never over HTTP" in str(err.value)
    options, warnings = build(hyperv_scheme="http", hyperv_auth=auth, hyperv_message_encryption="never",
                              hyperv_allow_unencrypted_http=True)
    assert options.encryption == "never"
    assert warnings


def test_ntlm_over_http_encrypts():
    options, warnings = build(hyperv_scheme="http", hyperv_auth="ntlm")
    assert options.encryption == "auto"
    assert warnings == []


def test_validate_certs_false_warns():
    options, warnings = build(hyperv_validate_certs=False, hyperv_ca_path="/ca.pem")
    assert options.cert_validation is False
    assert any("hyperv_validate_certs=false" in w for w in warnings)
    assert any("ignored" in w for w in warnings)


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"hyperv_host": ""}, "hyperv_host is required"),
        ({"hyperv_host": "https://hv01:5986/wsman"}, "not a URL"),
        ({"hyperv_port": 0}, "between 1 and 65535"),
        ({"hyperv_operation_timeout": 30, "hyperv_read_timeout": 30}, "must be greater than"),
        ({"hyperv_connection_retries": 11}, "between 0 and 10"),
        ({"hyperv_auth": "ntlm", "hyperv_password": None}, "needs hyperv_username and hyperv_password"),
        ({"hyperv_auth": "certificate", "hyperv_scheme": "http"}, "needs hyperv_scheme=https"),
        ({"hyperv_auth": "certificate"}, "hyperv_cert_pem"),
    ],
)
def test_refusals(params, fragment):
    with pytest.raises(ConfigurationError) as err:
        build(**params)
    assert fragment in str(err.value)


def test_kerberos_without_password_is_allowed():
    options = build_options(hyperv_auth="kerberos", hyperv_username=None, hyperv_password=None)
    assert options.auth == "kerberos"


def test_password_not_in_repr():
    options = build_options()
    assert "S3cret!" not in repr(options)
    assert "S3cret!" not in options.describe()


def test_every_option_has_an_env_fallback_named_in_the_docs():
    spec = connection_argument_spec()
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(doc) == set(spec)
    for name, option in spec.items():
        fallback = option["fallback"]
        env = fallback[1][0]
        assert env.startswith("HYPERV_")
        description = " ".join(doc[name]["description"])
        assert "E(%s)" % env in description, name
        assert doc[name]["type"] == option["type"]
        assert doc[name].get("default") == option.get("default"), name
        assert doc[name].get("choices") == option.get("choices"), name
        assert bool(doc[name].get("required")) == bool(option.get("required")), name
        assert doc[name].get("aliases") == option.get("aliases"), name
    assert spec["hyperv_password"]["no_log"] is True
    assert spec["hyperv_host"]["fallback"][1] == ["HYPERV_HOST"]
