"""Unit tests of the hyperv inventory plugin's pure helpers (plugin_utils/_inventory_connection.py)
and of its documentation (options and environment variables match the modules' connection spec)."""

from __future__ import annotations

import datetime

import pytest
import yaml

from ansible_collections.hyperv.checkpoints.plugins.inventory import hyperv as plugin
from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import connection_argument_spec
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import error_info, make_result
from ansible_collections.hyperv.checkpoints.plugins.plugin_utils import _inventory_connection as ic
from unit.fakes import FakeTransport

UTC = datetime.timezone.utc
VM1 = "6f0c2d9e-0001-4c00-8a00-000000000001"
VM2 = "6f0c2d9e-0002-4c00-8a00-000000000002"
VM3 = "6f0c2d9e-0003-4c00-8a00-000000000003"


def rec(name, vm_id, **extra):
    base = {"name": name, "id": vm_id, "state": "Running", "checkpoint_type": "Production",
            "automatic_checkpoints": False, "checkpoint_count": 0, "oldest_checkpoint_time": None}
    base.update(extra)
    return base


# ---------------------------------------------------------------------------- documentation
def test_doc_connection_options_match_the_modules_spec():
    doc = yaml.safe_load(plugin.DOCUMENTATION)["options"]
    spec = connection_argument_spec()
    for name, env in ic.CONNECTION_OPTIONS.items():
        assert name in doc, name
        assert [e["name"] for e in doc[name]["env"]] == [env]
        assert doc[name]["type"] == spec[name]["type"]
        assert doc[name].get("default") == spec[name].get("default"), name
        assert doc[name].get("choices") == spec[name].get("choices"), name
    assert "hyperv_host" not in doc  # replaced by the hosts list
    assert set(n for n in doc if n.startswith("hyperv_")) == set(ic.CONNECTION_OPTIONS)


def test_doc_extends_constructed_and_cache():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    assert "ansible.builtin.constructed" in doc["extends_documentation_fragment"]
    assert "ansible.builtin.inventory_cache" in doc["extends_documentation_fragment"]
    yaml.safe_load(plugin.EXAMPLES)


# ---------------------------------------------------------------------------- options
def test_host_entries_accepts_names_and_dicts():
    out = ic.host_entries(["HV01", {"name": " HV02 ", "address": "10.0.0.2", "port": 5986, "cluster": "C1"}])
    assert out == [{"name": "HV01"}, {"name": "HV02", "address": "10.0.0.2", "port": 5986, "cluster": "C1"}]


@pytest.mark.parametrize("hosts, message", [
    ([], "at least one"),
    ([{"address": "x"}], "no name"),
    ([{"name": "a", "passwd": "x"}], "unknown key"),
    (["HV01", "hv01"], "listed twice"),
    ([42], "host name or a dict"),
])
def test_host_entries_refuses(hosts, message):
    with pytest.raises(errors.ConfigurationError, match=message):
        ic.host_entries(hosts)


def test_connection_params_use_entry_overrides_and_validate_like_modules():
    options = dict((n, None) for n in ic.CONNECTION_OPTIONS)
    options.update(hyperv_auth="ntlm", hyperv_username="u", hyperv_password="s3cret", hyperv_scheme="https")
    params = ic.connection_params(options, {"name": "HV01", "address": "127.0.0.1", "port": 1234, "scheme": "http"})
    assert params["hyperv_host"] == "127.0.0.1"
    assert params["hyperv_port"] == 1234 and params["hyperv_scheme"] == "http"
    conn, warnings = ic.build_options(options, {"name": "HV01"})
    assert conn.host == "HV01" and conn.port == 5986 and conn.password == "s3cret"
    assert "s3cret" not in repr(conn)
    options["hyperv_auth"] = "basic"
    with pytest.raises(errors.ConfigurationError, match="Refusing Basic"):
        ic.build_options(options, {"name": "HV01", "scheme": "http"})


def test_redact():
    assert ic.redact("auth failed for pw=hunter2!", ["hunter2", None, ""]) == "auth failed for pw=********!"


# ---------------------------------------------------------------------------- naming
def test_names_at_host_keep_duplicates_distinct():
    vms = [("HV01", rec("web01", VM1)), ("HV02", rec("web01", VM2)), ("HV02", rec("db 1*", VM3))]
    names = ic.assign_names(vms)
    assert names == {("HV01", VM1): "web01@HV01", ("HV02", VM2): "web01@HV02", ("HV02", VM3): "db_1_@HV02"}


def test_name_mode_qualifies_only_shared_names():
    vms = [("HV01", rec("web01", VM1)), ("HV02", rec("web01", VM2)), ("HV02", rec("db01", VM3))]
    names = ic.assign_names(vms, "name")
    assert names[("HV02", VM3)] == "db01"
    assert names[("HV01", VM1)] == "web01@HV01" and names[("HV02", VM2)] == "web01@HV02"


def test_same_name_on_one_host_gets_id_suffix():
    vms = [("HV01", rec("web01", VM1)), ("HV01", rec("web01", VM2))]
    names = ic.assign_names(vms)
    assert names[("HV01", VM1)] == "web01@HV01_" + VM1
    assert len(set(names.values())) == 2
    # still unique, whatever the first 8 characters
    assert len(set(ic.assign_names(vms, "name").values())) == 2


def test_vm_named_like_a_hyperv_host_never_takes_its_name():
    names = ic.assign_names([("HV01", rec("HV02", VM1))], "name", reserved=["HV01", "HV02"])
    assert names[("HV01", VM1)] == "HV02@HV01"


def test_id_mode():
    assert ic.assign_names([("HV01", rec("a", VM1))], "id") == {("HV01", VM1): VM1}
    # a Replica pair shares the VM Id
    names = ic.assign_names([("HV01", rec("a", VM1)), ("HV03", rec("a", VM1))], "id")
    assert names == {("HV01", VM1): VM1 + "@HV01", ("HV03", VM1): VM1 + "@HV03"}


# ---------------------------------------------------------------------------- ages and policy
def test_parse_time_and_age():
    now = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert ic.checkpoint_age("2026-11-24T12:00:00.1234567+00:00", now) == 86399
    assert ic.checkpoint_age("2026-11-25T13:00:00.0000000+01:00", now) == 0
    assert ic.checkpoint_age(None, now) is None
    assert ic.checkpoint_age("yesterday", now) is None


@pytest.mark.parametrize("policy, record, age, expected", [
    ({}, rec("a", VM1), None, []),
    ({"checkpoint_type": ["Production"]}, rec("a", VM1, checkpoint_type="Standard"), None,
     ["checkpoint_type is Standard, not Production"]),
    ({"max_checkpoints": 2}, rec("a", VM1, checkpoint_count=3), None, ["3 checkpoints (at most 2)"]),
    ({"max_checkpoint_age_days": 1}, rec("a", VM1), 2 * 86400, ["oldest checkpoint is 2.0 days old (at most 1)"]),
    ({"max_checkpoint_age_days": 1}, rec("a", VM1), None, []),
    ({"automatic_checkpoints": True}, rec("a", VM1), None, ["automatic_checkpoints is False"]),
])
def test_policy_violations(policy, record, age, expected):
    assert ic.policy_violations(record, policy, age) == expected


# ---------------------------------------------------------------------------- querying (fake transport)
def _handler(kvp_fails=False):
    def handle(pipeline):
        cmdlets = [c["cmdlet"] for c in pipeline]
        if cmdlets == ["Hyper-V\\Get-VM"]:
            return make_result([
                {"Id": VM1, "Name": "web01", "State": "Running", "CheckpointType": "Production",
                 "OperationalStatus": ["Ok"], "IsClustered": True},
                {"Id": VM2, "Name": "dc01", "State": "Off", "CheckpointType": "Standard", "OperationalStatus": ["Ok"]},
            ])
        if cmdlets == ["Hyper-V\\Get-VM", "Hyper-V\\Get-VMSnapshot"]:
            return make_result([
                {"Id": "c1", "Name": "b", "VMId": VM1, "CreationTime": "2026-11-20T08:00:00.0000000+00:00"},
                {"Id": "c2", "Name": "a", "VMId": VM1, "CreationTime": "2026-11-18T08:00:00.0000000+00:00"},
            ])
        if cmdlets == ["CimCmdlets\\Get-CimInstance"]:
            if kvp_fails:
                return make_result(errors=[error_info(category="PermissionDenied", message="no")], failed=True)
            item = ("<INSTANCE CLASSNAME=\"Msvm_KvpExchangeDataItem\"><PROPERTY NAME=\"Data\"><VALUE>2</VALUE>"
                    "</PROPERTY><PROPERTY NAME=\"Name\"><VALUE>ProductType</VALUE></PROPERTY></INSTANCE>")
            return make_result([{"SystemName": VM2.upper(), "GuestIntrinsicExchangeItems": [item]}])
        raise AssertionError(cmdlets)
    return handle


def test_query_host_one_session_three_pipelines_side_by_side():
    made = []

    def factory(options, max_parallel):
        made.append(max_parallel)
        fake = FakeTransport(_handler())
        made.append(fake)
        return fake

    data = ic.query_host(object(), transport_factory=factory)
    assert made[0] == 3
    fake = made[1]
    assert fake.opened_count == 1 and fake.closed_count == 1
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 3 and fake.parallel_seen == [3]
    by_name = dict((r["name"], r) for r in data["vms"])
    assert by_name["web01"]["checkpoint_count"] == 2
    assert by_name["web01"]["oldest_checkpoint_time"].startswith("2026-11-18")
    assert by_name["web01"]["clustered"] is True
    assert by_name["dc01"]["guest_role"] == "domain_controller" and by_name["dc01"]["domain_controller"] is True
    assert by_name["web01"]["guest_role"] == "unknown"


def test_kvp_failure_leaves_roles_unknown():
    data = ic.query_host(object(), transport_factory=lambda o, max_parallel: FakeTransport(_handler(kvp_fails=True)))
    assert set(r["guest_role_source"] for r in data["vms"]) == {"unavailable"}


class _Failing(FakeTransport):
    def __init__(self, exc, fail_times, counter):
        super().__init__(_handler())
        self.exc, self.fail_times, self.counter = exc, fail_times, counter

    def open(self):
        self.counter.append(1)
        if len(self.counter) <= self.fail_times:
            raise self.exc
        super().open()


def test_quota_fault_is_retried_with_backoff():
    counter, sleeps = [], []
    exc = errors.QuotaError("quota", quota="MaxShellsPerUser", fault_code=2150859173)
    data = ic.query_host(object(), retries=2, retry_delay=0.5, sleep=sleeps.append,
                         transport_factory=lambda o, max_parallel: _Failing(exc, 2, counter))
    assert data["attempts"] == 3 and sleeps == [0.5, 1.0]


@pytest.mark.parametrize("exc", [errors.AuthenticationError("no"), errors.TLSError("bad cert"),
                                 errors.ConfigurationError("bad")])
def test_auth_tls_config_errors_are_not_retried(exc):
    counter, sleeps = [], []
    with pytest.raises(type(exc)):
        ic.query_host(object(), retries=3, sleep=sleeps.append,
                      transport_factory=lambda o, max_parallel: _Failing(exc, 10, counter))
    assert len(counter) == 1 and sleeps == []


def test_retries_exhausted_raise():
    counter = []
    exc = errors.ConnectionError("refused")
    with pytest.raises(errors.ConnectionError):
        ic.query_host(object(), retries=1, sleep=lambda s: None,
                      transport_factory=lambda o, max_parallel: _Failing(exc, 10, counter))
    assert len(counter) == 2
