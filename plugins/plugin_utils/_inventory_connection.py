# -*- coding: utf-8 -*-
# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the hyperv.checkpoints collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.
# See also: https://github.com/ansible/community/issues/539#issuecomment-780839686
# Please open an issue if you have questions about this.

# Copyright (c) 2026, hyperv.checkpoints contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Controller-side helpers of the ``hyperv.checkpoints.hyperv`` inventory plugin.

* ``host_entries``: the ``hosts`` option (names or dicts) as a list of dicts.
* ``connection_params``: plugin options + one host entry -> the ``hyperv_*`` params that
  ``module_utils._connection.build_connection_options`` validates (same rules as the modules).
* ``query_host``: one session (one RunspacePool / one WinRS shell) per Hyper-V host, three read
  pipelines run side by side, reads retried with back-off on quota and connection faults.
* ``vm_record`` / ``checkpoint_age`` / ``policy_violations`` / ``assign_names``: pure functions
  the plugin and its unit tests share.
* ``redact``: every text that reaches a warning goes through it (the password never does).

The data returned by ``query_host`` is plain JSON (it is what the inventory cache stores).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import time

from ansible_collections.hyperv.checkpoints.plugins.module_utils import _errors as errors
from ansible_collections.hyperv.checkpoints.plugins.module_utils._client import (
    GET_SNAPSHOT,
    GET_VM,
    HyperVClient,
    raise_for_result,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._connection import (
    build_connection_options,
    connection_argument_spec,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._models import (
    VM,
    Checkpoint,
    GuestRole,
    parse_kvp_items,
)
from ansible_collections.hyperv.checkpoints.plugins.module_utils._transport import (
    STATE_FAILED,
    command,
    create_transport,
)

#: Version of the cached data layout; a cache written by another layout is ignored.
DATA_VERSION = 1

#: Connection options the plugin accepts (every module option except hyperv_host, which the
#: ``hosts`` list replaces) with their environment variable.
CONNECTION_OPTIONS = dict(
    (name, spec["fallback"][1][0])
    for name, spec in connection_argument_spec().items()
    if name != "hyperv_host"
)

#: Per-host keys of a ``hosts`` entry and the connection option each one overrides.
HOST_OVERRIDES = {
    "port": "hyperv_port",
    "scheme": "hyperv_scheme",
    "auth": "hyperv_auth",
    "transport": "hyperv_transport",
    "ca_path": "hyperv_ca_path",
    "configuration_name": "hyperv_configuration_name",
}
HOST_KEYS = frozenset(["name", "address", "cluster"]) | frozenset(HOST_OVERRIDES)

_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]")
#: pipelines per host (Get-VM, Get-VM | Get-VMSnapshot, KVP): all three run at once on one pool
PIPELINES_PER_HOST = 3


# ---------------------------------------------------------------------------- options
def host_entries(hosts):
    """Normalise the ``hosts`` option: ``["HV01", {"name": "HV02", "port": 5986}]`` -> list of dicts.

    Raises ConfigurationError for an empty list, an entry without a name, unknown keys or a
    name given twice (the Hyper-V host name is an inventory host name and must be unique).
    """
    if not hosts:
        raise errors.ConfigurationError("the hosts option needs at least one Hyper-V host")
    out = []
    seen = set()
    for item in hosts:
        if isinstance(item, str):
            entry = {"name": item}
        elif isinstance(item, dict):
            entry = dict(item)
        else:
            raise errors.ConfigurationError("each hosts entry must be a host name or a dict with name (got %r)" % (item,))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise errors.ConfigurationError("a hosts entry has no name: %r" % (sorted(entry),))
        unknown = sorted(set(entry) - HOST_KEYS)
        if unknown:
            raise errors.ConfigurationError(
                "hosts entry %s: unknown key(s) %s (known: %s)" % (name, ", ".join(unknown), ", ".join(sorted(HOST_KEYS)))
            )
        entry["name"] = name.strip()
        if entry["name"].lower() in seen:
            raise errors.ConfigurationError("Hyper-V host %s is listed twice in hosts" % entry["name"])
        seen.add(entry["name"].lower())
        out.append(entry)
    return out


def connection_params(options, entry):
    """The ``hyperv_*`` params for one host: plugin options, then the entry's overrides."""
    params = dict((name, options.get(name)) for name in CONNECTION_OPTIONS)
    for key, option in HOST_OVERRIDES.items():
        if entry.get(key) is not None:
            params[option] = entry[key]
    params["hyperv_host"] = entry.get("address") or entry["name"]
    return params


def redact(text, secrets):
    """``text`` with every non-empty secret replaced by ``********``."""
    text = "%s" % (text,)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


# ---------------------------------------------------------------------------- time
def parse_time(text):
    """An 'o' round-trip DateTime string (7 fraction digits, offset) as an aware datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    match = re.match(r"\A(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?\Z", text.strip())
    if not match:
        return None
    frac = (match.group(2) or "0")[:6].ljust(6, "0")
    tz = match.group(3) or "+00:00"
    if tz == "Z":
        tz = "+00:00"
    try:
        return datetime.datetime.strptime("%s.%s%s" % (match.group(1), frac, tz.replace(":", "")),
                                          "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def checkpoint_age(created, now):
    """Seconds between ``created`` (an 'o' string) and ``now`` (aware datetime); None when unknown."""
    when = parse_time(created)
    if when is None:
        return None
    return max(0, int((now - when).total_seconds()))


# ---------------------------------------------------------------------------- querying
def host_pipelines():
    """The three read pipelines of one host, run side by side on one pool."""
    return [
        HyperVClient.list_vms_pipeline(),
        # every checkpoint of every VM of the host in one pipeline (no names are sent)
        [command(GET_VM), command(GET_SNAPSHOT)],
        HyperVClient.kvp_pipeline(),
    ]


def _guest_roles(result, vm_ids):
    if result.get("errors") or result.get("state") == STATE_FAILED:
        return dict((v, GuestRole(vm_id=v, source="unavailable")) for v in vm_ids)
    by_vm = {}
    for obj in result.get("output") or []:
        system = str(obj.get("SystemName") or "").strip().strip("{}").lower()
        if system:
            by_vm[system] = parse_kvp_items(obj.get("GuestIntrinsicExchangeItems"))
    roles = {}
    for vm_id in vm_ids:
        items = by_vm.get(vm_id) or {}
        product = None
        if items.get("ProductType") not in (None, ""):
            try:
                product = int(items["ProductType"])
            except (TypeError, ValueError):
                product = None
        roles[vm_id] = GuestRole.from_product_type(vm_id, product)
    return roles


def vm_record(vm, checkpoints, role):
    """The cached (plain) facts of one VM; ages are computed later, when the inventory is built."""
    times = sorted(c.creation_time for c in checkpoints if c.creation_time)
    return {
        "name": vm.name,
        "id": vm.id,
        "state": vm.state,
        "status": vm.status,
        "operational_status": list(vm.operational_status),
        "checkpoint_type": vm.checkpoint_type,
        "automatic_checkpoints": vm.automatic_checkpoints,
        "snapshot_file_location": vm.snapshot_file_location,
        "clustered": vm.is_clustered,
        "generation": vm.generation,
        "replication_mode": vm.replication_mode,
        "checkpoint_count": len(checkpoints),
        "checkpoint_names": [c.name for c in checkpoints],
        "oldest_checkpoint_time": times[0] if times else None,
        "newest_checkpoint_time": times[-1] if times else None,
        "current_checkpoint_id": vm.parent_checkpoint_id,
        "current_checkpoint_name": vm.parent_checkpoint_name,
        "guest_role": role.role,
        "domain_controller": role.domain_controller,
        "guest_role_source": role.source,
    }


def collect(client):
    """Run the host's pipelines on ``client`` and return ``[vm_record, ...]`` (sorted by name, Id)."""
    vms_res, cps_res, kvp_res = client.run(host_pipelines())
    vms = [VM.from_plain(o) for o in raise_for_result(vms_res, "listing VMs")]
    by_vm = {}
    for obj in raise_for_result(cps_res, "listing checkpoints", not_found_ok=True):
        cp = Checkpoint.from_plain(obj)
        by_vm.setdefault(cp.vm_id, []).append(cp)
    roles = _guest_roles(kvp_res, [vm.id for vm in vms])
    records = [vm_record(vm, by_vm.get(vm.id, []), roles[vm.id]) for vm in vms]
    records.sort(key=lambda r: (r["name"], r["id"]))
    return records


def _retryable(exc):
    """Inventory only reads, so quota and connection faults are retried (never auth, TLS, config)."""
    return isinstance(exc, (errors.QuotaError, errors.ConnectionError))


def query_host(options, retries=2, retry_delay=1.0, sleep=time.sleep, transport_factory=create_transport):
    """Query one Hyper-V host over one session; returns ``{"vms": [...], "attempts": n}``.

    ``options`` is a ConnectionOptions. Raises the collection's HyperVError after the retries.
    """
    attempt = 0
    delay = float(retry_delay)
    while True:
        attempt += 1
        transport = transport_factory(options, max_parallel=PIPELINES_PER_HOST)
        transport.quota_retry_delays = ()  # query_retries and retry_delay are the plugin's whole retry policy
        try:
            transport.open()
            records = collect(HyperVClient(transport, parallel=PIPELINES_PER_HOST))
            return {"vms": records, "attempts": attempt}
        except errors.HyperVError as exc:
            if attempt > retries or not _retryable(exc):
                raise
        finally:
            transport.close()
        sleep(delay)
        delay *= 2


def build_options(plugin_options, entry):
    """(ConnectionOptions, [warnings]) for one host entry; the modules' validation rules apply."""
    return build_connection_options(connection_params(plugin_options, entry))


# ---------------------------------------------------------------------------- evaluation
def policy_violations(record, policy, age_seconds):
    """The policy rules the VM breaks (empty list: compliant). ``policy`` keys are all optional."""
    out = []
    want_type = policy.get("checkpoint_type")
    if want_type:
        allowed = [want_type] if isinstance(want_type, str) else list(want_type)
        if record.get("checkpoint_type") not in allowed:
            out.append("checkpoint_type is %s, not %s" % (record.get("checkpoint_type"), " or ".join(allowed)))
    if policy.get("automatic_checkpoints") is not None:
        if record.get("automatic_checkpoints") != bool(policy["automatic_checkpoints"]):
            out.append("automatic_checkpoints is %s" % record.get("automatic_checkpoints"))
    max_count = policy.get("max_checkpoints")
    if max_count is not None and record.get("checkpoint_count", 0) > int(max_count):
        out.append("%d checkpoints (at most %d)" % (record.get("checkpoint_count", 0), int(max_count)))
    max_age = policy.get("max_checkpoint_age_days")
    if max_age is not None and age_seconds is not None and age_seconds > float(max_age) * 86400:
        out.append("oldest checkpoint is %.1f days old (at most %s)" % (age_seconds / 86400.0, max_age))
    return out


def safe_part(text):
    """A name part safe in host patterns: every character outside [A-Za-z0-9._-] becomes ``_``."""
    return _UNSAFE_NAME_RE.sub("_", text or "") or "_"


def assign_names(vms, naming="name_at_host", reserved=()):
    """{(host, vm_id): inventory host name} for ``vms`` = [(host, record)], unique and stable.

    * ``name_at_host``: ``<vm>@<host>``;
    * ``name``: ``<vm>`` when no other VM of the inventory has that name, else ``<vm>@<host>``;
    * ``id``: the VM Id.

    Both parts are sanitised with ``safe_part``. ``reserved`` names (the Hyper-V hosts' own
    inventory names) are never given to a VM: ``name`` falls back to ``<vm>@<host>`` for them.
    Names that still collide (duplicate VM names on one host, or two names that sanitise alike)
    get ``_<VM Id>``; in ``id`` mode a VM Id found on several hosts (Hyper-V Replica keeps the Id)
    becomes ``<VM Id>@<host>``.
    """
    reserved = set(reserved)
    candidates = {}
    if naming == "name":
        holders = {}
        for host, rec in vms:
            holders.setdefault(safe_part(rec["name"]), set()).add(host)
    for host, rec in vms:
        if naming == "id":
            base = rec["id"]
        elif naming == "name" and len(holders[safe_part(rec["name"])]) == 1 and safe_part(rec["name"]) not in reserved:
            base = safe_part(rec["name"])
        else:
            base = "%s@%s" % (safe_part(rec["name"]), safe_part(host))
        candidates[(host, rec["id"])] = base
    counts = {}
    for base in candidates.values():
        counts[base] = counts.get(base, 0) + 1
    out = {}
    for key, base in candidates.items():
        if counts[base] == 1 and base not in reserved:
            out[key] = base
        elif naming == "id":
            # Hyper-V Replica keeps the VM Id on the replica host: qualify with the host
            out[key] = "%s@%s" % (base, safe_part(key[0]))
        else:
            out[key] = "%s_%s" % (base, key[1])
    return out
