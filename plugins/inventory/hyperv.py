# -*- coding: utf-8 -*-

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: hyperv
short_description: Hyper-V VMs, their checkpoint state and their hosts as inventory
version_added: 0.1.0
description:
  - Queries a list of Hyper-V hosts over WinRM (PSRP by default) from the controller, several hosts at once, and adds
    every VM as an inventory host with its state, checkpoint type, checkpoint count and oldest checkpoint age.
  - Each Hyper-V host is queried over B(one) session (one runspace pool) with three read pipelines
    (C(Get-VM), C(Get-VM | Get-VMSnapshot) and the guest KVP data), so the inventory never opens more than one
    WinRM shell per host.
  - The Hyper-V hosts themselves form the group C(<group_prefix>hosts); their host variables list their VMs, so a
    fleet playbook can run one batched task per Hyper-V host instead of one task per VM.
  - VMs are named C(<vm>@<host>) by default, so VMs with the same name on different hosts stay distinct (see
    O(vm_hostname)).
  - A host that cannot be queried does not stop the inventory; the other hosts are inventoried and a warning names
    the host that failed. Passwords never appear in warnings, host variables or the cache.
  - The inventory file name must end with C(hyperv.yml) or C(hyperv.yaml).
requirements:
  - pypsrp >= 0.9.1 (for O(hyperv_transport=psrp))
  - pywinrm >= 0.5.0 (for O(hyperv_transport=winrm))
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; it must always be set to V(hyperv.checkpoints.hyperv).
    type: str
    required: true
    choices: [hyperv.checkpoints.hyperv]
  hosts:
    description:
      - The Hyper-V hosts to query. Each entry is a host name, or a dictionary with C(name) (required; the inventory
        name of the Hyper-V host and the value of the C(hyperv_host) host variable of its VMs) and optionally
        C(address) (what to connect to, default C(name)), C(port), C(scheme), C(auth), C(transport), C(ca_path),
        C(configuration_name) (per-host overrides of the connection options) and C(cluster) (the failover cluster
        the host belongs to, reported as C(hyperv_cluster)).
    type: list
    elements: raw
    required: true
  vm_hostname:
    description:
      - How VMs are named in the inventory.
      - V(name_at_host) gives C(<vm>@<hyper-v host>), unique across hosts and stable when hosts are added.
      - V(name) gives the bare VM name, and C(<vm>@<hyper-v host>) for every VM whose name another VM in the inventory
        also has.
      - V(id) gives the VM Id (GUID).
      - In every mode each character outside C([A-Za-z0-9._-]) is replaced by C(_), so every name can be used in a
        host pattern; the exact name is in C(hyperv_vm_name). A name that still collides (two VMs with the same
        name on one host, or names that sanitise alike) gets C(_<VM Id>). With V(id), a VM Id present on several
        hosts (Hyper-V Replica keeps the Id) becomes C(<VM Id>@<hyper-v host>).
      - A VM is never given the inventory name of a Hyper-V host of the same inventory.
    type: str
    choices: [name_at_host, name, id]
    default: name_at_host
  group_prefix:
    description: Prefix of every group the plugin creates itself.
    type: str
    default: hyperv_
  policy:
    description:
      - A checkpoint policy. VMs that meet every rule set here join C(<group_prefix>policy_compliant), the others
        C(<group_prefix>policy_noncompliant), with the broken rules in C(hyperv_policy_violations).
      - Without a policy no compliance groups are created.
    type: dict
    suboptions:
      checkpoint_type:
        description: Allowed checkpoint type(s) as Hyper-V names them (C(Production), C(ProductionOnly), C(Standard), C(Disabled)).
        type: list
        elements: str
      automatic_checkpoints:
        description: Required automatic-checkpoint setting.
        type: bool
      max_checkpoints:
        description: Largest number of checkpoints a VM may have.
        type: int
      max_checkpoint_age_days:
        description: Largest age in days of the VM's oldest checkpoint.
        type: float
  max_workers:
    description:
      - How many Hyper-V hosts are queried at the same time (threads on the controller). Each host gets one session.
    type: int
    default: 8
  query_retries:
    description:
      - How many times a host is queried again after a WinRM quota fault (C(MaxShellsPerUser)) or a connection
        failure, with a delay that doubles each time. Authentication, TLS and configuration errors are never retried.
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry of a host.
    type: float
    default: 1.0
  hyperv_port:
    description:
      - TCP port of the WinRM listeners (5986 for https, 5985 for http when not set). A C(port) in a O(hosts) entry
        wins.
    type: int
    env:
      - name: HYPERV_PORT
  hyperv_scheme:
    description: V(https) or V(http), as for the modules.
    type: str
    choices: [http, https]
    default: https
    env:
      - name: HYPERV_SCHEME
  hyperv_auth:
    description: The authentication protocol, as for the modules.
    type: str
    choices: [basic, certificate, credssp, kerberos, negotiate, ntlm]
    default: negotiate
    env:
      - name: HYPERV_AUTH
  hyperv_username:
    description: The user to authenticate as.
    type: str
    env:
      - name: HYPERV_USERNAME
  hyperv_password:
    description:
      - The password of O(hyperv_username). It is never shown in warnings, host variables or the cache.
      - Prefer the environment variable or an Ansible Vault encrypted value to a clear-text password in the file.
    type: str
    env:
      - name: HYPERV_PASSWORD
  hyperv_cert_pem:
    description: Client certificate (PEM) for O(hyperv_auth=certificate).
    type: path
    env:
      - name: HYPERV_CERT_PEM
  hyperv_cert_key_pem:
    description: Private key (PEM) of O(hyperv_cert_pem).
    type: path
    env:
      - name: HYPERV_CERT_KEY_PEM
  hyperv_validate_certs:
    description: Whether to validate the hosts' TLS certificates.
    type: bool
    default: true
    env:
      - name: HYPERV_VALIDATE_CERTS
  hyperv_ca_path:
    description: PEM bundle of the CA certificates that may sign the hosts' WinRM certificates.
    type: path
    env:
      - name: HYPERV_CA_PATH
  hyperv_transport:
    description: V(psrp) (PowerShell Remoting) or V(winrm) (WinRS shell with the collection's fixed runner).
    type: str
    choices: [psrp, winrm]
    default: psrp
    env:
      - name: HYPERV_TRANSPORT
  hyperv_configuration_name:
    description: PowerShell session configuration (for example a JEA endpoint) with O(hyperv_transport=psrp).
    type: str
    default: Microsoft.PowerShell
    env:
      - name: HYPERV_CONFIGURATION_NAME
  hyperv_operation_timeout:
    description: WS-Management operation timeout in seconds; lower than O(hyperv_read_timeout).
    type: int
    default: 20
    env:
      - name: HYPERV_OPERATION_TIMEOUT
  hyperv_read_timeout:
    description: Seconds to wait for a host to answer an HTTP request.
    type: int
    default: 30
    env:
      - name: HYPERV_READ_TIMEOUT
  hyperv_connection_retries:
    description: How many times the transport retries opening a connection before the query counts as failed.
    type: int
    default: 0
    env:
      - name: HYPERV_CONNECTION_RETRIES
  hyperv_message_encryption:
    description: WinRM message encryption, as for the modules.
    type: str
    choices: [auto, always, never]
    default: auto
    env:
      - name: HYPERV_MESSAGE_ENCRYPTION
  hyperv_allow_unencrypted_http:
    description: Opt-in for unencrypted WinRM over HTTP (isolated labs only), as for the modules.
    type: bool
    default: false
    env:
      - name: HYPERV_ALLOW_UNENCRYPTED_HTTP
notes:
  - The connection options and their environment variables are those of the modules (C(HYPERV_*)), with the same
    validation (for example Basic over HTTP is refused unless O(hyperv_allow_unencrypted_http=true)).
  - The plugin does not query FailoverClusters cmdlets (they are not on the collection's cmdlet allow-list that
    JEA endpoints and the WinRS runner enforce); C(hyperv_cluster) comes from the C(cluster) key of the O(hosts)
    entry, and C(hyperv_clustered) from the VM's C(IsClustered).
  - With O(cache=true) the cache holds the facts as read (checkpoint creation times, not ages); ages and policy
    compliance are computed again each time the inventory is built from the cache. The cache is written only when
    every host answered, so a host that failed is queried again on the next run.
  - "Host variables of each VM: C(hyperv_host) (the Hyper-V host name), C(hyperv_address), C(hyperv_port) and
    C(hyperv_scheme) (how the plugin reached the host), C(hyperv_vm_name), C(hyperv_vm_id), C(hyperv_state),
    C(hyperv_status), C(hyperv_operational_status), C(hyperv_checkpoint_type), C(hyperv_automatic_checkpoints),
    C(hyperv_checkpoint_count), C(hyperv_checkpoint_names), C(hyperv_oldest_checkpoint_time),
    C(hyperv_oldest_checkpoint_age_seconds), C(hyperv_oldest_checkpoint_age_days), C(hyperv_newest_checkpoint_time),
    C(hyperv_current_checkpoint_name), C(hyperv_cluster), C(hyperv_clustered), C(hyperv_guest_role)
    (C(domain_controller), C(server), C(workstation) or C(unknown)), C(hyperv_domain_controller),
    C(hyperv_generation), C(hyperv_replication_mode) and, with O(policy), C(hyperv_policy_compliant) and
    C(hyperv_policy_violations)."
  - "Each VM also gets C(ansible_host) set to its exact VM name: the inventory name C(<vm>@<host>) would otherwise
    read as C(user@host) to ssh and WinRM, and a play that connects to the guest (the patch tasks of the pre_patch
    role) would reach the Hyper-V host. Set it to the guest's DNS name or address with O(compose) when the VM name
    does not resolve, for example C(compose: {ansible_host: hyperv_vm_name ~ '.corp.example'})."
  - Each Hyper-V host gets C(ansible_host) set to its address.
  - "The non-secret connection settings that differ from the modules' defaults (C(hyperv_auth), C(hyperv_transport),
    C(hyperv_ca_path), C(hyperv_configuration_name), C(hyperv_validate_certs)), from the O(hosts) entry or the
    plugin options, are host variables of the Hyper-V host and of its VMs too, so the collection's roles reach
    the host as the plugin did. Credentials are never host variables: give the modules the same
    C(HYPERV_USERNAME)/C(HYPERV_PASSWORD) environment, or C(module_defaults)."
  - "Host variables of each Hyper-V host: C(hyperv_host), C(hyperv_address), C(hyperv_port), C(hyperv_scheme),
    C(hyperv_cluster), C(hyperv_reachable), C(hyperv_vm_count), C(hyperv_vm_ids), C(hyperv_vm_names) and C(hyperv_vms)
    (a list of C(name), C(id), C(inventory_hostname), C(state), C(checkpoint_type) and C(checkpoint_count));
    C(hyperv_inventory_error) when the host could not be queried."
  - "Groups (with the default O(group_prefix)): C(hyperv_hosts) (the Hyper-V hosts), C(hyperv_unreachable) (hosts
    that could not be queried), C(hyperv_vms) (every VM), C(hyperv_host_<host>), C(hyperv_state_<state>),
    C(hyperv_checkpoint_type_<type>), C(hyperv_cluster_<cluster>), C(hyperv_guest_<role>) and, with O(policy),
    C(hyperv_policy_compliant) / C(hyperv_policy_noncompliant). Group names are lower case and sanitised."
seealso:
  - module: hyperv.checkpoints.checkpoint
  - module: hyperv.checkpoints.checkpoint_info
"""

EXAMPLES = r"""
# inventory/fleet.hyperv.yml -- credentials from HYPERV_USERNAME / HYPERV_PASSWORD
plugin: hyperv.checkpoints.hyperv
hosts:
  - hv01.corp.example
  - name: hv02.corp.example
    cluster: HVCLU01
  - name: hv03
    address: 10.0.4.23
    port: 5986
hyperv_auth: negotiate
hyperv_ca_path: /etc/pki/winrm-ca.pem
max_workers: 16
policy:
  checkpoint_type: [Production, ProductionOnly]
  max_checkpoints: 10
  max_checkpoint_age_days: 14
keyed_groups:
  - key: hyperv_guest_role
    prefix: role
compose:
  checkpoint_overdue: (hyperv_oldest_checkpoint_age_days | default(0, true)) > 7
groups:
  patch_wave_1: hyperv_vm_name is match('web')

# The same with a JSON file cache (a second ansible-inventory run within an hour reads the cache, not the hosts)
# plugin: hyperv.checkpoints.hyperv
# hosts: [hv01.corp.example, hv02.corp.example]
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: /var/tmp/hyperv-inventory
# cache_timeout: 3600
"""

import concurrent.futures
import datetime

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.plugin_utils import _inventory_connection as ic

_UTC = datetime.timezone.utc

#: (connection option, hosts-entry key or None) exported as host variables when set; never a secret
EXPORTED_SETTINGS = (
    ("hyperv_auth", "auth"),
    ("hyperv_transport", "transport"),
    ("hyperv_ca_path", "ca_path"),
    ("hyperv_configuration_name", "configuration_name"),
    ("hyperv_validate_certs", None),
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "hyperv.checkpoints.hyperv"

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        return path.endswith(("hyperv.yml", "hyperv.yaml"))

    # ------------------------------------------------------------------ options
    def _plugin_options(self):
        return dict((name, self.get_option(name)) for name in ic.CONNECTION_OPTIONS)

    def _reach_vars(self, entry):
        """The non-secret connection settings that differ from the modules' defaults, for one host entry.

        Exported as host variables so that the roles, which build their connection from them, reach the
        host the way the plugin did (the credentials still come from the environment or module_defaults).
        """
        out = {}
        for option, key in EXPORTED_SETTINGS:
            value = entry.get(key) if key and entry.get(key) is not None else self.get_option(option)
            if value is not None and value != self.option_definitions[option].get("default"):
                out[option] = value
        return out

    def _secrets(self):
        return [self.get_option("hyperv_password")]

    # ------------------------------------------------------------------ querying
    def _query_one(self, entry, plugin_options):
        options, warnings = ic.build_options(plugin_options, entry)
        data = ic.query_host(
            options,
            retries=max(0, int(self.get_option("query_retries"))),
            retry_delay=float(self.get_option("retry_delay")),
        )
        data["warnings"] = warnings
        data["address"] = options.host
        data["port"] = options.port
        data["scheme"] = options.scheme
        return data

    def _query(self, entries):
        """{"version", "hosts": {name: {...}}}: every host queried, at most max_workers at once."""
        plugin_options = self._plugin_options()
        workers = max(1, min(int(self.get_option("max_workers")), len(entries)))
        results = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = dict((pool.submit(self._query_one, entry, plugin_options), entry) for entry in entries)
            for future in concurrent.futures.as_completed(futures):
                entry = futures[future]
                try:
                    data = future.result()
                except errors.HyperVError as exc:
                    data = {"error": "%s" % exc, "vms": []}
                except Exception as exc:  # pylint: disable=broad-except
                    data = {"error": "unexpected %s: %s" % (type(exc).__name__, exc), "vms": []}
                data["cluster"] = entry.get("cluster")
                results[entry["name"]] = data
        return {"version": ic.DATA_VERSION, "hosts": results}

    # ------------------------------------------------------------------ building the inventory
    def _group(self, suffix):
        return self.inventory.add_group(self._sanitize_group_name(("%s%s" % (self._prefix, suffix)).lower()))

    def _populate(self, data, entries):
        secrets = self._secrets()
        now = datetime.datetime.now(_UTC)
        strict = self.get_option("strict")
        policy = self.get_option("policy") or {}
        policy = dict((k, v) for k, v in policy.items() if v is not None)
        hosts_group = self._group("hosts")
        vms_group = self._group("vms")
        self._group("unreachable")  # always there (maybe empty), so "hyperv_hosts:!hyperv_unreachable" never warns
        order = [e["name"] for e in entries]
        known = data.get("hosts") or {}

        all_vms = [(host, rec) for host in order for rec in (known.get(host) or {}).get("vms") or []]
        names = ic.assign_names(all_vms, self.get_option("vm_hostname"), reserved=order)

        for host in order:
            info = known.get(host)
            if info is None:
                info = {"error": "not in the inventory cache", "vms": []}
            self.inventory.add_host(host, group=hosts_group)
            entry = next(e for e in entries if e["name"] == host)
            address = info.get("address") or entry.get("address") or host
            host_vars = {
                "hyperv_host": host,
                "hyperv_address": address,
                "hyperv_port": info.get("port", entry.get("port")),
                "hyperv_scheme": info.get("scheme") or entry.get("scheme") or self.get_option("hyperv_scheme"),
                "hyperv_cluster": info.get("cluster"),
                "hyperv_reachable": not info.get("error"),
            }
            host_vars.update(self._reach_vars(entry))
            for warning in info.get("warnings") or []:
                self.display.warning("hyperv inventory, host %s: %s" % (host, ic.redact(warning, secrets)))
            if info.get("error"):
                message = ic.redact(info["error"], secrets)
                host_vars["hyperv_inventory_error"] = message
                self.inventory.add_child(self._group("unreachable"), host)
                self.display.warning(
                    "hyperv inventory: Hyper-V host %s could not be queried, its VMs are missing from the inventory: %s"
                    % (host, message)
                )
            vm_list = []
            for rec in info.get("vms") or []:
                vm_host = names[(host, rec["id"])]
                vm_list.append({
                    "name": rec["name"], "id": rec["id"], "inventory_hostname": vm_host, "state": rec["state"],
                    "checkpoint_type": rec["checkpoint_type"], "checkpoint_count": rec["checkpoint_count"],
                })
                self._add_vm(vm_host, host, host_vars, rec, now, policy, strict, vms_group)
            host_vars.update({
                "hyperv_vm_count": len(vm_list),
                "hyperv_vm_ids": [v["id"] for v in vm_list],
                "hyperv_vm_names": [v["name"] for v in vm_list],
                "hyperv_vms": vm_list,
            })
            for key, value in host_vars.items():
                self.inventory.set_variable(host, key, value)
            self.inventory.set_variable(host, "ansible_host", address)

    def _add_vm(self, vm_host, host, host_vars, rec, now, policy, strict, vms_group):
        age = ic.checkpoint_age(rec.get("oldest_checkpoint_time"), now)
        hostvars = {
            "hyperv_host": host,
            "hyperv_address": host_vars["hyperv_address"],
            "hyperv_port": host_vars["hyperv_port"],
            "hyperv_scheme": host_vars["hyperv_scheme"],
            "hyperv_cluster": host_vars["hyperv_cluster"],
            "hyperv_vm_name": rec["name"],
            "hyperv_vm_id": rec["id"],
            "hyperv_state": rec["state"],
            "hyperv_status": rec.get("status"),
            "hyperv_operational_status": rec.get("operational_status") or [],
            "hyperv_checkpoint_type": rec["checkpoint_type"],
            "hyperv_automatic_checkpoints": rec.get("automatic_checkpoints"),
            "hyperv_checkpoint_count": rec["checkpoint_count"],
            "hyperv_checkpoint_names": rec.get("checkpoint_names") or [],
            "hyperv_oldest_checkpoint_time": rec.get("oldest_checkpoint_time"),
            "hyperv_oldest_checkpoint_age_seconds": age,
            "hyperv_oldest_checkpoint_age_days": None if age is None else round(age / 86400.0, 2),
            "hyperv_newest_checkpoint_time": rec.get("newest_checkpoint_time"),
            "hyperv_current_checkpoint_name": rec.get("current_checkpoint_name"),
            "hyperv_clustered": rec.get("clustered"),
            "hyperv_guest_role": rec.get("guest_role"),
            "hyperv_domain_controller": rec.get("domain_controller"),
            "hyperv_generation": rec.get("generation"),
            "hyperv_replication_mode": rec.get("replication_mode"),
        }
        hostvars.update(dict((option, host_vars[option]) for option, dummy in EXPORTED_SETTINGS if option in host_vars))
        groups = [vms_group, self._group("host_%s" % host)]
        if rec.get("state"):
            groups.append(self._group("state_%s" % rec["state"]))
        if rec.get("checkpoint_type"):
            groups.append(self._group("checkpoint_type_%s" % rec["checkpoint_type"]))
        if host_vars["hyperv_cluster"]:
            groups.append(self._group("cluster_%s" % host_vars["hyperv_cluster"]))
        if rec.get("guest_role"):
            groups.append(self._group("guest_%s" % rec["guest_role"]))
        if policy:
            violations = ic.policy_violations(rec, policy, age)
            hostvars["hyperv_policy_compliant"] = not violations
            hostvars["hyperv_policy_violations"] = violations
            groups.append(self._group("policy_compliant" if not violations else "policy_noncompliant"))
        self.inventory.add_host(vm_host)
        for group in groups:
            self.inventory.add_child(group, vm_host)
        for key, value in hostvars.items():
            self.inventory.set_variable(vm_host, key, value)
        # The inventory name "<vm>@<host>" would read as user@host to ssh and WinRM and reach the Hyper-V host:
        # a play that connects to the guest reaches the machine named like the VM instead (compose can override).
        self.inventory.set_variable(vm_host, "ansible_host", rec["name"])
        self._set_composite_vars(self.get_option("compose"), hostvars, vm_host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, vm_host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, vm_host, strict=strict)

    # ------------------------------------------------------------------ entry point
    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            entries = ic.host_entries(self.get_option("hosts"))
        except errors.ConfigurationError as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))
        self._prefix = self.get_option("group_prefix") or ""

        self.load_cache_plugin()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        read_cache = use_cache and cache
        update_cache = use_cache and not cache
        data = None
        if read_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
            if data is not None and (data.get("version") != ic.DATA_VERSION
                                     or set(data.get("hosts") or {}) != set(e["name"] for e in entries)):
                data, update_cache = None, True
        if data is None:
            data = self._query(entries)
        failed = sorted(h for h, info in (data.get("hosts") or {}).items() if info.get("error"))
        if update_cache and failed:
            # a cached failure would hide the host until the cache expires: query again next time
            self.display.vvv("hyperv inventory: not caching, these hosts failed: %s" % ", ".join(failed))
        elif update_cache:
            self._cache[cache_key] = data
        self._populate(data, entries)
