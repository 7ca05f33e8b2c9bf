"""HvsimServer: listeners per lab host, shells, quotas, faults, stats, control endpoints."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import secrets
import ssl
import sys
import tempfile
import threading
import time
import traceback
import typing as t
import uuid
from xml.etree import ElementTree as ET

from hvsim.engine.types import CallContext, CommandCall, PipelineResult
from hvsim.faults import PROTOCOL_KINDS, FaultPlan, parse_spec

from . import soap
from .http import Listener
from .psrp import PSRPShell
from .winrs import RunnerSpec, WinRSShell

DEFAULT_USER = "hvsim"
DEFAULT_PASSWORD = "Hvsim-Passw0rd!"
NTLM_DOMAINS = ("", "HVSIM", ".")


@dataclasses.dataclass
class Outcome:
    status: int = 200
    body: bytes = b""
    drop: bool = False


class _Drop(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# NTLM_USER_FILE is process-wide (pyspnego reads the env var); all live servers share one file and
# each server then checks the authenticated principal against its own users.
_NTLM_LOCK = threading.Lock()
_NTLM_USERS: t.Dict[int, t.Tuple[t.Dict[str, str], t.Sequence[str]]] = {}
_NTLM_FILE: t.Optional[str] = None


def _ntlm_lines(users: t.Dict[str, str], domains: t.Sequence[str] = NTLM_DOMAINS) -> t.List[str]:
    return ["%s:%s:%s" % (d, u, p) for u, p in users.items() for d in domains]


def _lab_domains(lab: t.Any) -> t.List[str]:
    """NTLM domains a client may name: none, HVSIM, '.', and each lab host's AD domain (FQDN and NetBIOS)."""
    domains = list(NTLM_DOMAINS)
    hosts = getattr(lab, "hosts", None)
    for host in (hosts.values() if isinstance(hosts, dict) else []):
        fqdn = getattr(host, "domain", None)
        if fqdn:
            for d in (fqdn, fqdn.split(".")[0].upper()):
                if d not in domains:
                    domains.append(d)
    return domains


def _ntlm_register(key: int, users: t.Optional[t.Tuple[t.Dict[str, str], t.Sequence[str]]], own_file: t.Optional[str]) -> None:
    global _NTLM_FILE
    with _NTLM_LOCK:
        if users is None:
            _NTLM_USERS.pop(key, None)
        else:
            _NTLM_USERS[key] = users
            if own_file:
                with open(os.open(own_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fd:
                    fd.write("\n".join(_ntlm_lines(*users)) + "\n")
        if _NTLM_FILE is None:
            fd_, _NTLM_FILE = tempfile.mkstemp(prefix="hvsim-ntlm-", suffix=".txt")
            os.close(fd_)
        lines: t.List[str] = []
        for entry in _NTLM_USERS.values():
            lines.extend(_ntlm_lines(*entry))
        with open(_NTLM_FILE, "w") as fd:
            fd.write("\n".join(lines) + "\n")
        os.environ["NTLM_USER_FILE"] = _NTLM_FILE


class HvsimServer:
    """The WS-Man server of one lab: one HTTP and/or HTTPS listener per lab host.

    ``engine`` needs ``run_pipeline(calls, context) -> PipelineResult``. ``lab`` (optional) gives
    ``hosts``, ``digest()``, ``dump()``, ``save()`` and ``inject_fault(kind, **params)``.
    """

    def __init__(
        self,
        engine: t.Any = None,
        lab: t.Any = None,
        *,
        hosts: t.Optional[t.Sequence[str]] = None,
        username: t.Optional[str] = None,
        password: t.Optional[str] = None,
        users: t.Optional[t.Dict[str, str]] = None,
        state_dir: t.Optional[str] = None,
        http: bool = True,
        https: bool = True,
        basic: bool = True,
        allow_unencrypted: bool = False,
        port_base: int = 0,
        faults: t.Optional[FaultPlan] = None,
        runner: t.Any = None,
        max_receive_wait: float = 120.0,
        enforce_cbt: bool = False,
        verbose: bool = False,
    ) -> None:
        if engine is None:
            if lab is None:
                raise ValueError("HvsimServer needs an engine or a lab")
            from hvsim.engine.engine import Engine  # lazy: owned by the engine helper

            engine = Engine(lab)
        self.engine = engine
        self.lab = lab
        self.hosts = list(hosts) if hosts is not None else _lab_hosts(lab)
        creds = getattr(lab, "credentials", None) or {}
        if username is None:
            username = creds.get("username") or DEFAULT_USER
        if password is None:
            password = creds.get("password") or DEFAULT_PASSWORD
        self.username = username
        self.password = password
        self.users: t.Dict[str, str] = {username: password}
        self.users.update(users or {})
        self._own_state_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="hvsim-")
        os.makedirs(self.state_dir, exist_ok=True)
        self.enable_http = http
        self.enable_https = https
        self.basic = basic
        self.allow_unencrypted = allow_unencrypted
        self.port_base = port_base
        self.faults = faults or FaultPlan()
        self._runner_source = runner
        self._runner_spec: t.Optional[RunnerSpec] = None
        self.max_receive_wait = max_receive_wait
        self.enforce_cbt = enforce_cbt  # CbtHardeningLevel=Strict for NTLM/Negotiate over HTTPS
        self.channel_bindings: t.Any = None
        self.verbose = verbose
        self.control_token = secrets.token_urlsafe(16)
        self.stopping = False
        self.started = False

        self._lock = threading.RLock()
        self.shells: t.Dict[str, t.Any] = {}
        self.listeners: t.Dict[str, t.Dict[str, Listener]] = {}
        self._threads: t.List[threading.Thread] = []
        self.ca_path: t.Optional[str] = None
        self._reset_stats_locked()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "HvsimServer":
        if self.started:
            return self
        self._check_runner_drift()
        _ntlm_register(id(self), (self.users, _lab_domains(self.lab)), os.path.join(self.state_dir, "ntlm_users.txt"))
        ssl_ctx = None
        if self.enable_https:
            from .certs import ensure_certificates

            paths = ensure_certificates(os.path.join(self.state_dir, "tls"))
            self.ca_path = paths["ca"]
            if self.enforce_cbt:
                import hashlib

                import spnego.channel_bindings
                from cryptography import x509
                from cryptography.hazmat.primitives.serialization import Encoding

                with open(paths["cert"], "rb") as fd:
                    der = x509.load_pem_x509_certificate(fd.read()).public_bytes(Encoding.DER)
                self.channel_bindings = spnego.channel_bindings.GssChannelBindings(
                    application_data=b"tls-server-end-point:" + hashlib.sha256(der).digest()
                )
            ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_ctx.load_cert_chain(paths["cert"], paths["key"])
        try:
            port = self.port_base
            for host in self.hosts:
                self.listeners[host] = {}
                for scheme, enabled in (("http", self.enable_http), ("https", self.enable_https)):
                    if not enabled:
                        continue
                    listener = Listener(self, host, scheme, port if self.port_base else 0, ssl_ctx if scheme == "https" else None)
                    if self.port_base:
                        port += 1
                    self.listeners[host][scheme] = listener
                    listener.start()
        except Exception:
            self.stop()
            raise
        self.started = True
        return self

    def stop(self) -> None:
        self.stopping = True
        with self._lock:
            shells = list(self.shells.values())
        for shell in shells:
            with shell.cond:
                shell.cond.notify_all()
        for per_host in self.listeners.values():
            for listener in per_host.values():
                listener.stop()
        for shell in shells:
            try:
                shell.close()
            except Exception:
                pass
        with self._lock:
            self.shells.clear()
            threads = list(self._threads)
        for th in threads:
            th.join(10)
        _ntlm_register(id(self), None, None)
        self.started = False

    def __enter__(self) -> "HvsimServer":
        return self.start()

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()

    def track_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads = [th for th in self._threads if th.is_alive()]
            self._threads.append(thread)

    def log(self, message: str, *, exc: bool = False, verbose: bool = False) -> None:
        if verbose and not self.verbose:
            return
        sys.stderr.write("hvsim: %s\n" % message)
        if exc:
            traceback.print_exc(file=sys.stderr)

    # -- endpoints / credentials -------------------------------------------------------------------
    def endpoints(self) -> t.Dict[str, t.Any]:
        hosts = {}
        for host, per_host in self.listeners.items():
            entry: t.Dict[str, t.Any] = {}
            for scheme, listener in per_host.items():
                entry["%s_url" % scheme] = listener.url
                entry["%s_port" % scheme] = listener.port
            hosts[host] = entry
        return {
            "hosts": hosts,
            "address": "127.0.0.1",
            "username": self.username,
            "password": self.password,
            "ca_path": self.ca_path,
            "control_token": self.control_token,
            "allow_unencrypted": self.allow_unencrypted,
            "state_dir": self.state_dir,
        }

    def url(self, host: t.Optional[str] = None, scheme: str = "https") -> str:
        return self.listeners[host or self.hosts[0]][scheme].url

    def port(self, host: t.Optional[str] = None, scheme: str = "https") -> int:
        return self.listeners[host or self.hosts[0]][scheme].port

    def check_password(self, user: str, password: t.Optional[str]) -> t.Optional[str]:
        canonical = self.known_user(user)
        if canonical is None or password is None or self.users[canonical] != password:
            return None
        return canonical

    def known_user(self, principal: str) -> t.Optional[str]:
        name = principal.split("\\")[-1].split("@")[0]
        for user in self.users:
            if user.lower() == name.lower():
                return user
        return None

    # -- the WinRS runner constants --------------------------------------------------------------
    def runner_spec(self) -> RunnerSpec:
        if self._runner_spec is None:
            src = self._runner_source
            if isinstance(src, RunnerSpec):
                self._runner_spec = src
            else:
                self._runner_spec = RunnerSpec.from_module(src) if src is not None else RunnerSpec.from_module()
        return self._runner_spec

    def _check_runner_drift(self) -> None:
        """Fail loudly if the collection's runner constants exist but are inconsistent."""
        try:
            self.runner_spec()
        except ImportError as exc:
            self.log("WinRS runner module not importable yet (%s); WinRS runner commands will fail" % exc)
        # RuntimeError (SHA-256 drift) propagates.

    # -- engine ---------------------------------------------------------------------------------------
    def run_pipeline(self, calls: t.List[CommandCall], context: CallContext) -> PipelineResult:
        with self._lock:
            self._stats["pipelines"] += 1
            self._stats["pipelines_by_transport"][context.transport] += 1
        result = self.engine.run_pipeline(calls, context)
        if result.mutated:
            with self._lock:
                self._stats["mutating_pipelines"] += 1
        return result

    # -- stats ---------------------------------------------------------------------------------------
    def _reset_stats_locked(self) -> None:
        self._stats: t.Dict[str, t.Any] = {
            "requests": 0,
            "requests_by_host": collections.Counter(),
            "requests_by_action": collections.Counter(),
            "connections": 0,
            "auth_failures": 0,
            "faults_fired": collections.Counter(),
            "shells_created": 0,
            "shells_deleted": 0,
            "pipelines": 0,
            "pipelines_by_transport": collections.Counter(),
            "mutating_pipelines": 0,
            "max_concurrent_shells": collections.Counter(),
        }

    def reset_stats(self) -> None:
        with self._lock:
            self._reset_stats_locked()
            for host in self.hosts:
                self._stats["max_concurrent_shells"][host] = sum(1 for s in self.shells.values() if s.host == host)

    def stats_request(self, host: str) -> None:
        with self._lock:
            self._stats["requests"] += 1
            self._stats["requests_by_host"][host] += 1

    def stats_connection(self, host: str) -> None:
        with self._lock:
            self._stats["connections"] += 1

    def stats_auth_failure(self, host: str) -> None:
        with self._lock:
            self._stats["auth_failures"] += 1

    def stats_fault(self, kind: str) -> None:
        with self._lock:
            self._stats["faults_fired"][kind] += 1

    def stats(self) -> t.Dict[str, t.Any]:
        with self._lock:
            open_by_host: t.Dict[str, t.Dict[str, int]] = {h: {} for h in self.hosts}
            for shell in self.shells.values():
                per = open_by_host.setdefault(shell.host, {})
                per[shell.owner] = per.get(shell.owner, 0) + 1
            out = {k: (dict(v) if isinstance(v, collections.Counter) else v) for k, v in self._stats.items()}
            out["open_shells"] = open_by_host
            out["open_shells_total"] = len(self.shells)
            out["open_shells_by_kind"] = dict(collections.Counter(s.kind for s in self.shells.values()))
            return out

    def open_shell_count(self, host: t.Optional[str] = None, user: t.Optional[str] = None) -> int:
        with self._lock:
            return sum(
                1 for s in self.shells.values() if (host is None or s.host == host) and (user is None or s.owner == user)
            )

    # -- lab --------------------------------------------------------------------------------------------
    def digest(self) -> str:
        if self.lab is not None and hasattr(self.lab, "digest"):
            return self.lab.digest()
        if hasattr(self.engine, "digest"):
            return self.engine.digest()
        return ""

    def state(self) -> t.Any:
        if self.lab is not None and hasattr(self.lab, "dump"):
            return self.lab.dump()
        if hasattr(self.engine, "dump"):
            return self.engine.dump()
        return {}

    def inject_fault(self, kind: str, **params: t.Any) -> None:
        """Protocol faults go to the FaultPlan, anything else to ``lab.inject_fault``."""
        if kind in PROTOCOL_KINDS:
            self.faults.apply(kind, **params)
            return
        target = self.lab if self.lab is not None and hasattr(self.lab, "inject_fault") else self.engine
        if not hasattr(target, "inject_fault"):
            raise ValueError("unknown fault %r and no lab to forward it to" % kind)
        target.inject_fault(kind, **params)

    def inject_spec(self, spec: str) -> None:
        kind, params = parse_spec(spec)
        self.inject_fault(kind, **params)

    def control(self, method: str, path: str, payload: t.Any) -> t.Tuple[int, t.Any]:
        if method == "GET" and path == "/hvsim/digest":
            return 200, {"digest": self.digest()}
        if method == "GET" and path == "/hvsim/state":
            return 200, self.state()
        if method == "GET" and path == "/hvsim/stats":
            return 200, self.stats()
        if method == "GET" and path == "/hvsim/faults":
            return 200, self.faults.to_dict()
        if method == "GET" and path == "/hvsim/endpoint":
            return 200, self.endpoints()
        if method == "POST" and path == "/hvsim/reset-stats":
            self.reset_stats()
            return 200, self.stats()
        if method == "POST" and path == "/hvsim/faults":
            payload = payload or {}
            if payload.get("clear"):
                self.faults.clear(None if payload["clear"] is True else payload["clear"])
            for spec in payload.get("specs", []):
                self.inject_spec(spec)
            for item in payload.get("faults", []):
                item = dict(item)
                self.inject_fault(item.pop("kind"), **item)
            return 200, self.faults.to_dict()
        return 404, {"error": "no such endpoint %s %s" % (method, path)}

    # -- WS-Man dispatch ----------------------------------------------------------------------------------
    def handle_soap(self, data: bytes, listener: Listener, user: str, client_ip: str) -> Outcome:
        try:
            req = soap.parse_request(data)
        except ET.ParseError as exc:
            return Outcome(400, ("malformed SOAP: %s" % exc).encode())
        except soap.WSManFault as fault:
            return Outcome(500, soap.fault_envelope(fault, ""))
        with self._lock:
            self._stats["requests_by_action"][req.action.rsplit("/", 1)[-1]] += 1
        try:
            children = self._dispatch(req, listener, user, client_ip)
            return Outcome(200, soap.envelope(req.action + "Response", req.message_id, children))
        except _Drop:
            self.stats_fault("drop_after_mutation")
            return Outcome(drop=True)
        except soap.WSManFault as fault:
            fault.machine = listener.lab_host
            return Outcome(500, soap.fault_envelope(fault, req.message_id))
        except Exception as exc:
            self.log("internal error handling %s" % req.action, exc=True)
            fault = soap.WSManFault(2150858752, "hvsim internal error: %s" % exc)
            return Outcome(500, soap.fault_envelope(fault, req.message_id))

    def _shell(self, req: soap.Request, listener: Listener, user: str) -> t.Any:
        shell_id = req.shell_id or ""
        with self._lock:
            shell = self.shells.get(shell_id.upper())
        if shell is None or shell.host != listener.lab_host or shell.owner != user:
            raise soap.shell_not_found_fault(shell_id)
        return shell

    def _dispatch(self, req: soap.Request, listener: Listener, user: str, client_ip: str) -> t.List[ET.Element]:
        action = req.action
        host = listener.lab_host
        is_psrp = req.resource_uri.startswith(soap.RESOURCE_PSRP_PREFIX)
        if not is_psrp and req.resource_uri != soap.RESOURCE_CMD and action != soap.ACTION_GET:
            raise soap.WSManFault(
                2150858811,
                "The WS-Management service cannot process the request. The resource URI %s was not found." % req.resource_uri,
                value="s:Sender",
                subcode="w:DestinationUnreachable",
            )

        if action == soap.ACTION_CREATE:
            return self._create(req, listener, user, client_ip, is_psrp)
        if action == soap.ACTION_GET:
            return self._get_config(req)
        shell = self._shell(req, listener, user)
        if action == soap.ACTION_DELETE:
            with self._lock:
                self.shells.pop(shell.id.upper(), None)
                self._stats["shells_deleted"] += 1
            shell.close()
            return []
        if action == soap.ACTION_COMMAND:
            return self._command(req, shell, user, host)
        if action == soap.ACTION_SEND:
            resp = ET.Element(soap.q("rsp", "SendResponse"))
            for stream in req.body.findall("rsp:Send/rsp:Stream", soap.NS):
                data = _b64(stream.text)
                cid = stream.attrib.get("CommandId")
                if shell.kind == "psrp":
                    shell.send(cid, data, prompt_response=stream.attrib.get("Name") == "pr")
                else:
                    shell.send(cid or "", data, stream.attrib.get("End", "false").lower() == "true")
            return [resp]
        if action == soap.ACTION_RECEIVE:
            return self._receive(req, shell, host)
        if action == soap.ACTION_SIGNAL:
            sig = req.body.find("rsp:Signal", soap.NS)
            cid = sig.attrib.get("CommandId") if sig is not None else None
            code_el = sig.find("rsp:Code", soap.NS) if sig is not None else None
            shell.signal(cid, (code_el.text or "").strip() if code_el is not None else "")
            return [ET.Element(soap.q("rsp", "SignalResponse"))]
        raise soap.WSManFault(
            soap.CODE_ACTION_NOT_SUPPORTED,
            "The WS-Management service does not support the specified action %s." % action,
            value="s:Sender",
            subcode="a:ActionNotSupported",
        )

    def _create(self, req: soap.Request, listener: Listener, user: str, client_ip: str, is_psrp: bool) -> t.List[ET.Element]:
        host = listener.lab_host
        shell_el = req.body.find("rsp:Shell", soap.NS)
        with self._lock:
            limit = self.faults.max_shells_per_user
            if self.open_shell_count(host, user) >= limit:
                self.stats_fault("max_shells_per_user")
                raise soap.max_shells_fault(limit)
            shell_id = ((shell_el.attrib.get("ShellId") if shell_el is not None else None) or str(uuid.uuid4())).upper()
            if is_psrp:
                shell: t.Any = PSRPShell(self, shell_id, user, host, req.resource_uri)
            else:
                shell = WinRSShell(self, shell_id, user, host, req.resource_uri, req.options.get("WINRS_CODEPAGE", "437"))
            self.shells[shell_id] = shell
            self._stats["shells_created"] += 1
            count = self.open_shell_count(host)
            if count > self._stats["max_concurrent_shells"][host]:
                self._stats["max_concurrent_shells"][host] = count
        if is_psrp:
            creation = shell_el.find("pwsh:creationXml", soap.NS) if shell_el is not None else None
            try:
                shell.create((creation.text or "") if creation is not None else "")
            except Exception as exc:
                with self._lock:
                    self.shells.pop(shell_id, None)
                raise soap.WSManFault(2150858752, "Invalid PSRP creationXml: %s" % exc, value="s:Sender")
            ins, outs = "stdin pr", "stdout"
        else:
            ins = _text(shell_el, "rsp:InputStreams") or "stdin"
            outs = _text(shell_el, "rsp:OutputStreams") or "stdout stderr"
        return soap.resource_created(
            listener.url, req.resource_uri, shell_id,
            [soap.shell_element(shell_id, req.resource_uri, user, client_ip, ins, outs)],
        )

    def _command(self, req: soap.Request, shell: t.Any, user: str, host: str) -> t.List[ET.Element]:
        line = req.body.find("rsp:CommandLine", soap.NS)
        with self._lock:
            limit = self.faults.max_concurrent_operations
            ops = sum(s.op_count for s in self.shells.values() if s.host == host and s.owner == user)
            if ops >= limit:
                self.stats_fault("max_concurrent_operations")
                raise soap.max_operations_fault(limit)
        cid = line.attrib.get("CommandId") if line is not None else None
        args = [a.text or "" for a in (line.findall("rsp:Arguments", soap.NS) if line is not None else [])]
        if shell.kind == "psrp":
            if not cid:
                raise soap.WSManFault(2150858752, "A PowerShell Command needs a CommandId.", value="s:Sender")
            cid = shell.command(cid, args)
        else:
            command = _text(line, "rsp:Command") or ""
            cid = shell.command(cid, " ".join([command.strip()] + [a.strip() for a in args if a.strip()]))
        resp = ET.Element(soap.q("rsp", "CommandResponse"))
        ET.SubElement(resp, soap.q("rsp", "CommandId")).text = cid
        return [resp]

    def _receive(self, req: soap.Request, shell: t.Any, host: str) -> t.List[ET.Element]:
        desired = req.body.find("rsp:Receive/rsp:DesiredStream", soap.NS)
        cid = desired.attrib.get("CommandId") if desired is not None else None
        if cid and self.faults.fire("operation_timeout", host):  # only command Receives (clients retry those)
            self.stats_fault("operation_timeout")
            raise soap.operation_timeout_fault()
        timeout = max(0.0, min(req.operation_timeout, self.max_receive_wait))
        resp = ET.Element(soap.q("rsp", "ReceiveResponse"))
        if shell.kind == "psrp":
            max_bytes = max(8192, (req.max_envelope_size - 4096) * 3 // 4)
            payloads, state, drop = shell.receive(cid, timeout, max_bytes)
            if state == "Timeout":
                raise soap.operation_timeout_fault()
            for data in payloads:
                st = ET.SubElement(resp, soap.q("rsp", "Stream"))
                st.set("Name", "stdout")
                if cid:
                    st.set("CommandId", cid)
                st.text = _b64e(data)
            if cid and state is not None:
                cs = ET.SubElement(resp, soap.q("rsp", "CommandState"))
                cs.set("CommandId", cid)
                cs.set("State", soap.STATE_DONE if state == "Done" else soap.STATE_RUNNING)
            if drop:
                raise _Drop()
            return [resp]
        streams, state, rc, drop = shell.receive(cid, timeout, max(8192, (req.max_envelope_size - 4096) * 3 // 4))
        if state == "Timeout":
            raise soap.operation_timeout_fault()
        if drop:
            raise _Drop()
        for name, data, end in streams:
            st = ET.SubElement(resp, soap.q("rsp", "Stream"))
            st.set("Name", name)
            if cid:
                st.set("CommandId", cid)
            if end:
                st.set("End", "true")
            if data:
                st.text = _b64e(data)
        cs = ET.SubElement(resp, soap.q("rsp", "CommandState"))
        if cid:
            cs.set("CommandId", cid)
        cs.set("State", soap.STATE_DONE if state == "Done" else soap.STATE_RUNNING)
        if state == "Done":
            ET.SubElement(cs, soap.q("rsp", "ExitCode")).text = str(rc or 0)
        return [resp]

    def _get_config(self, req: soap.Request) -> t.List[ET.Element]:
        ns = "http://schemas.microsoft.com/wbem/wsman/1/config"
        cfg = ET.Element("{%s}Config" % ns)
        ET.SubElement(cfg, "{%s}MaxEnvelopeSizekb" % ns).text = "500"
        ET.SubElement(cfg, "{%s}MaxTimeoutms" % ns).text = "60000"
        return [cfg]


def _lab_hosts(lab: t.Any) -> t.List[str]:
    names = getattr(lab, "host_names", None)
    if names is None:
        hosts = getattr(lab, "hosts", None)
        names = list(hosts) if hosts else None
    return list(names) if names else ["hv01"]


def _b64(text: t.Optional[str]) -> bytes:
    import base64

    return base64.b64decode(text.strip()) if text and text.strip() else b""


def _b64e(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _text(el: t.Optional[ET.Element], path: str) -> t.Optional[str]:
    if el is None:
        return None
    found = el.find(path, soap.NS)
    return (found.text or "") if found is not None else None


def write_endpoint_file(server: HvsimServer, path: t.Optional[str] = None) -> str:
    path = path or os.path.join(server.state_dir, "endpoint.json")
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fd:
        json.dump(server.endpoints(), fd, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path
