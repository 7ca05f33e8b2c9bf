"""The hyperv.checkpoints.hyperv inventory plugin end to end: ansible-inventory --list against hvsim."""

from __future__ import annotations

import pytest


pytestmark = pytest.mark.timeout(300)


def test_every_vm_once_duplicates_distinct_hosts_group(inventory, lab):
    run = inventory({"keyed_groups": [{"key": "hyperv_guest_role", "prefix": "role"}],
                     "compose": {"many_checkpoints": "hyperv_checkpoint_count > 10"},
                     "groups": {"web": "hyperv_vm_name.startswith('web')"}})
    assert run.rc == 0, run.stderr
    hv = run.hostvars
    # duplicate VM name web01 on HV01 and HV02: two inventory hosts, distinct Ids
    a, b = hv["web01@HV01"], hv["web01@HV02"]
    assert a["hyperv_vm_name"] == b["hyperv_vm_name"] == "web01"
    assert (a["hyperv_host"], b["hyperv_host"]) == ("HV01", "HV02")
    assert a["hyperv_vm_id"] != b["hyperv_vm_id"]
    # "web01@HV01" would read as user@host to ssh/WinRM: a play on the VM reaches the machine named web01
    assert a["ansible_host"] == b["ansible_host"] == "web01"
    assert hv["HV01"]["ansible_host"] == lab.host
    # how the plugin reached the host, for the roles (set in the inventory file; never the password)
    for host in ("HV01", "web01@HV01"):
        assert hv[host]["hyperv_auth"] == "ntlm" and hv[host]["hyperv_ca_path"] == lab.ca_path
        assert "hyperv_transport" not in hv[host]  # the modules' default: not exported
        assert not any("password" in key for key in hv[host])
    # every VM of the lab exactly once
    with lab.lab.locked():
        expected = sorted((vm.host, vm.id) for vm in lab.lab.vms.values())
    got = sorted((v["hyperv_host"], v["hyperv_vm_id"]) for h, v in hv.items() if "hyperv_vm_id" in v)
    assert got == expected
    assert sorted(run.group("hyperv_vms")) == sorted(h for h, v in hv.items() if "hyperv_vm_id" in v)
    # the Hyper-V hosts group lists their VMs
    assert sorted(run.group("hyperv_hosts")) == ["HV01", "HV02", "HV03"]
    hv01 = hv["HV01"]
    assert hv01["hyperv_reachable"] is True
    assert hv01["hyperv_vm_count"] == len(run.group("hyperv_host_hv01"))
    assert "web01@HV01" in [v["inventory_hostname"] for v in hv01["hyperv_vms"]]
    assert a["hyperv_vm_id"] in hv01["hyperv_vm_ids"]
    # facts
    n49 = hv["nightly49@HV03"]
    assert n49["hyperv_checkpoint_count"] == 49 and n49["many_checkpoints"] is True
    assert n49["hyperv_oldest_checkpoint_age_days"] > 1
    assert hv["dc01@HV01"]["hyperv_guest_role"] == "domain_controller"
    assert "dc01@HV01" in run.group("role_domain_controller")
    assert hv["sqlclu-a@HV01"]["hyperv_clustered"] is True
    assert hv["legacy01@HV02"]["hyperv_checkpoint_type"] == "Disabled"
    # groups by host, state, checkpoint type; constructed groups
    assert "legacy01@HV02" in run.group("hyperv_checkpoint_type_disabled")
    assert "legacy01@HV02" in run.group("hyperv_state_paused")
    assert "sql01@HV02" in run.group("hyperv_host_hv02")
    assert set(run.group("web")) == {"web01@HV01", "web01@HV02", "web02-replica@HV03"}
    # one session per Hyper-V host
    stats = lab.stats()
    assert all(stats["max_concurrent_shells"][h] == 1 for h in ("HV01", "HV02", "HV03")), stats  # queried, once
    assert stats["open_shells_total"] == 0
    # the password is nowhere in the output
    assert lab.password not in run.stdout + run.stderr


def test_policy_groups_and_cluster(inventory):
    run = inventory({"policy": {"checkpoint_type": ["Production", "ProductionOnly"], "max_checkpoints": 10},
                     "compose": {"ansible_host": "hyperv_vm_name ~ '.lab.example'"}})
    assert run.rc == 0, run.stderr
    hv = run.hostvars
    assert hv["web01@HV02"]["ansible_host"] == "web01.lab.example"  # compose wins over the plugin's default
    assert "nightly49@HV03" in run.group("hyperv_policy_noncompliant")
    assert hv["nightly49@HV03"]["hyperv_policy_violations"] == [
        "checkpoint_type is Standard, not Production or ProductionOnly", "49 checkpoints (at most 10)"]
    assert "sql01@HV02" in run.group("hyperv_policy_compliant")
    assert hv["sql01@HV02"]["hyperv_policy_compliant"] is True


def test_vm_hostname_name_mode(inventory):
    run = inventory({"vm_hostname": "name"})
    assert run.rc == 0, run.stderr
    assert {"web01@HV01", "web01@HV02", "dc01", "nightly49"} <= set(run.hostvars)
    assert "web01" not in run.hostvars


def test_unreachable_host_warns_others_inventoried(inventory, lab, dead_port):
    port = dead_port
    run = inventory(extra_hosts=[{"name": "HV99", "address": "127.0.0.1", "port": port, "cluster": "GONE"}])
    assert run.rc == 0, run.stderr
    assert "HV99" in run.stderr and "could not be queried" in run.stderr
    assert "web01@HV01" in run.hostvars and "nightly49@HV03" in run.hostvars
    assert run.group("hyperv_unreachable") == ["HV99"]
    assert run.hostvars["HV99"]["hyperv_reachable"] is False
    assert run.hostvars["HV99"]["hyperv_vm_count"] == 0
    assert lab.password not in run.stdout + run.stderr


def test_wrong_password_warning_never_shows_a_password(inventory, lab):
    secret = "Wr0ng-" + lab.password[::-1]
    run = inventory(env={"HYPERV_PASSWORD": secret}, args=["-vvvv"])
    assert run.rc == 0, run.stderr
    assert "could not be queried" in run.stderr and "HV01" in run.stderr
    assert run.group("hyperv_vms") == []
    for text in (run.stdout, run.stderr):
        assert secret not in text and lab.password not in text


def test_missing_password_is_a_configuration_warning(inventory):
    run = inventory(password=False)
    assert run.rc == 0, run.stderr
    assert "needs hyperv_username and hyperv_password" in run.stderr


def test_cache_second_run_does_not_contact_the_hosts(inventory, lab, tmp_path):
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile",
             "cache_connection": str(tmp_path / "cache"), "cache_timeout": 600}
    lab.reset_stats()
    first = inventory(cache)
    assert first.rc == 0, first.stderr
    assert lab.stats()["requests"] > 0
    assert list((tmp_path / "cache").iterdir()), "no cache file written"

    lab.reset_stats()
    second = inventory(cache)
    assert second.rc == 0, second.stderr
    assert lab.stats()["requests"] == 0, lab.stats()
    assert second.data == first.data or set(second.hostvars) == set(first.hostvars)
    assert second.hostvars["web01@HV02"]["hyperv_vm_id"] == first.hostvars["web01@HV02"]["hyperv_vm_id"]
    for text in [p.read_text() for p in (tmp_path / "cache").iterdir()]:
        assert lab.password not in text

    lab.reset_stats()
    third = inventory(cache, args=["--flush-cache"])
    assert third.rc == 0, third.stderr
    assert lab.stats()["requests"] > 0


def test_failed_host_is_not_cached(inventory, lab, tmp_path, dead_port):
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile",
             "cache_connection": str(tmp_path / "cache2"), "cache_timeout": 600}
    dead = [{"name": "HV99", "address": "127.0.0.1", "port": dead_port}]
    first = inventory(cache, extra_hosts=dead)
    assert first.rc == 0 and "HV99" in first.stderr
    lab.reset_stats()
    second = inventory(cache, extra_hosts=dead)
    assert second.rc == 0
    assert lab.stats()["requests"] > 0  # queried again: a failure is never served from the cache


def test_winrm_transport(inventory):
    run = inventory({"hyperv_transport": "winrm"})
    assert run.rc == 0, run.stderr
    assert run.hostvars["web01@HV02"]["hyperv_host"] == "HV02"
    assert run.hostvars["nightly49@HV03"]["hyperv_checkpoint_count"] == 49


def _hold_shell(lab, host):
    """Open one PSRP session on ``host`` as the lab user (takes one shell of the quota)."""
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import build_connection_options
    from ansible_collections.hyperv.checkpoints.plugins.module_utils._psrp import PSRPTransport

    options, _warnings = build_connection_options({
        "hyperv_host": lab.host, "hyperv_port": lab.port(host, "https"), "hyperv_auth": "ntlm",
        "hyperv_username": lab.username, "hyperv_password": lab.password, "hyperv_ca_path": lab.ca_path,
    })
    transport = PSRPTransport(options)
    transport.open()
    return transport


def test_quota_fault_is_retried_with_backoff(inventory, lab):
    import threading

    lab.inject_fault("max_shells_per_user", value=1)
    holder = _hold_shell(lab, "HV02")
    lab.reset_stats()
    done = threading.Event()

    def release_after_first_fault():
        # free the shell once the inventory has hit the quota, so a retry can succeed
        while not done.is_set():
            if lab.stats()["faults_fired"].get("max_shells_per_user", 0) >= 1:
                holder.close()
                return
            done.wait(0.05)

    watcher = threading.Thread(target=release_after_first_fault, daemon=True)
    watcher.start()
    try:
        run = inventory({"query_retries": 3, "retry_delay": 1.0})
    finally:
        done.set()
        watcher.join(5)
        holder.close()
    assert run.rc == 0, run.stderr
    assert lab.stats()["faults_fired"].get("max_shells_per_user", 0) >= 1
    assert "could not be queried" not in run.stderr
    assert "web01@HV02" in run.hostvars and run.hostvars["HV02"]["hyperv_reachable"] is True


def test_quota_fault_that_persists_names_the_host(inventory, lab):
    lab.inject_fault("max_shells_per_user", value=1)
    holder = _hold_shell(lab, "HV02")
    try:
        run = inventory({"query_retries": 1, "retry_delay": 0.2})
    finally:
        holder.close()
    assert run.rc == 0, run.stderr
    assert "HV02 could not be queried" in run.stderr and "MaxShellsPerUser" in run.stderr
    assert run.group("hyperv_unreachable") == ["HV02"]
    assert "web01@HV01" in run.hostvars and "nightly49@HV03" in run.hostvars
