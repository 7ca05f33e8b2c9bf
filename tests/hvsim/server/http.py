"""HTTP(S) listeners: keep-alive connections, authentication, MS-WSMV message encryption."""

from __future__ import annotations

import base64
import http.server
import json
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
import typing as t
import urllib.parse

import spnego
import spnego.exceptions

from . import soap

PROTOCOL_SPNEGO = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = "Encrypted Boundary"


class Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One listening socket (HTTP or HTTPS) for one lab host."""

    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, hvsim: t.Any, lab_host: str, scheme: str, port: int, ssl_context: t.Optional[ssl.SSLContext]):
        self.hvsim = hvsim
        self.lab_host = lab_host
        self.scheme = scheme
        self.ssl_context = ssl_context
        self._conn_lock = threading.Lock()
        self._connections: t.Set[socket.socket] = set()
        # socketserver joins only non-daemon request threads on close; these are daemons (a stuck
        # client must not keep the interpreter alive), so the listener tracks and joins them itself.
        self._request_threads: t.List[threading.Thread] = []
        super().__init__(("127.0.0.1", port), Handler)
        self.port = self.server_address[1]
        self.thread: t.Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d/wsman" % (self.scheme, self.port)

    def process_request(self, request: t.Any, client_address: t.Any) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address), daemon=True)
        with self._conn_lock:
            self._request_threads = [th for th in self._request_threads if th.is_alive()]
            self._request_threads.append(thread)
        thread.start()

    def finish_request(self, request: t.Any, client_address: t.Any) -> None:
        conn = request
        with self._conn_lock:  # registered before the TLS handshake, so stop() can break a stalled one
            self._connections.add(request)
        try:
            try:  # headers and body go out in separate writes: no Nagle/delayed-ACK stalls
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            if self.ssl_context is not None:
                request.settimeout(10)
                try:
                    conn = self.ssl_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                conn.settimeout(None)
            with self._conn_lock:
                self._connections.add(conn)
            self.hvsim.stats_connection(self.lab_host)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
                self._connections.discard(request)
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:  # quieter than the default
        if not self.hvsim.stopping:
            self.hvsim.log("connection error from %s" % (client_address,), exc=True)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="hvsim-%s-%s" % (self.lab_host, self.scheme), daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.close_connections()
        self.server_close()
        if self.thread is not None:
            self.thread.join(10)
        with self._conn_lock:
            threads = list(self._request_threads)
        deadline = time.monotonic() + 15
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def unwrap_message(ctx: t.Any, body: bytes, content_type: str) -> bytes:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    boundary = m.group(1) if m else BOUNDARY
    parts = re.split(rb"--\s*" + re.escape(boundary.encode()) + rb"\r\n", body)
    parts = [p for p in parts if p]
    out = b""
    for i in range(0, len(parts) - 1, 2):
        header = parts[i].strip()
        payload = parts[i + 1]
        expected = int(header.split(b"Length=")[1].split(b"\r")[0].strip())
        payload = re.sub(rb"--\s*" + re.escape(boundary.encode()) + rb"--\r\n$", b"", payload)
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"")
        sig_len = struct.unpack("<i", payload[:4])[0]
        signature = payload[4 : 4 + sig_len]
        data = ctx.unwrap_winrm(signature, payload[4 + sig_len :])
        if len(data) != expected:
            raise ValueError("encrypted length mismatch %d != %d" % (len(data), expected))
        out += data
    return out


def wrap_message(ctx: t.Any, data: bytes) -> t.Tuple[str, bytes]:
    res = ctx.wrap_winrm(data)
    payload = (
        ("--%s\r\n\tContent-Type: %s\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n"
         "--%s\r\n\tContent-Type: application/octet-stream\r\n") % (BOUNDARY, PROTOCOL_SPNEGO, len(data) + res.padding_length, BOUNDARY)
    ).encode() + struct.pack("<i", len(res.header)) + res.header + res.data + ("--%s--\r\n" % BOUNDARY).encode()
    return 'multipart/encrypted;protocol="%s";boundary="%s"' % (PROTOCOL_SPNEGO, BOUNDARY), payload


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 600
    server: Listener

    def setup(self) -> None:
        super().setup()
        self.auth_ctx: t.Any = None
        self.auth_user: t.Optional[str] = None
        self.auth_kind: t.Optional[str] = None
        self.auth_final_token: t.Optional[bytes] = None

    def log_message(self, format: str, *args: t.Any) -> None:
        self.server.hvsim.log("%s %s" % (self.server.lab_host, format % args), verbose=True)

    # -- helpers ----------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", content_type: t.Optional[str] = None, headers: t.Sequence[t.Tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if content_type and body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _basic_allowed(self) -> bool:
        hv = self.server.hvsim
        return hv.basic and (self.server.scheme == "https" or hv.allow_unencrypted)

    def _send_401(self, token: t.Optional[bytes] = None, close: bool = False) -> None:
        headers = []
        if token:
            headers.append(("WWW-Authenticate", "Negotiate " + base64.b64encode(token).decode()))
        else:
            headers.append(("WWW-Authenticate", "Negotiate"))
            if self._basic_allowed():
                headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        if close:
            headers.append(("Connection", "close"))
            self.close_connection = True
        self._send(401, headers=headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _authenticate(self) -> t.Optional[str]:
        """The authenticated user, or None after sending a 401 (challenge or refusal)."""
        hv = self.server.hvsim
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic":
            if not self._basic_allowed():
                hv.stats_auth_failure(self.server.lab_host)
                self._send_401()
                return None
            try:
                user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except Exception:
                user, password = "", None
            canonical = hv.check_password(user, password)
            if canonical is None:
                hv.stats_auth_failure(self.server.lab_host)
                self._send_401()
                return None
            self.auth_kind = "basic"
            return canonical
        if scheme_l in ("negotiate", "ntlm"):
            try:
                token = base64.b64decode(value.strip())
            except Exception:
                token = b""
            initial = token.startswith(b"NTLMSSP\x00\x01\x00\x00\x00") or token[:1] == b"\x60"
            if initial or self.auth_ctx is None or self.auth_ctx.complete:
                self.auth_ctx = spnego.server(protocol="ntlm" if scheme_l == "ntlm" else "negotiate")
                self.auth_user = None
            bindings = hv.channel_bindings if self.server.scheme == "https" else None
            try:
                out = self.auth_ctx.step(token, channel_bindings=bindings)
            except (spnego.exceptions.SpnegoError, ValueError, Exception) as exc:  # wrong password, bad token
                hv.log("authentication failed on %s: %s" % (self.server.lab_host, exc), verbose=True)
                hv.stats_auth_failure(self.server.lab_host)
                self.auth_ctx = None
                self.auth_user = None
                self._send_401(close=False)
                return None
            if not self.auth_ctx.complete:
                self._send_401(token=out)
                return None
            principal = self.auth_ctx.client_principal or ""
            canonical = hv.known_user(principal)
            if canonical is None:
                hv.stats_auth_failure(self.server.lab_host)
                self.auth_ctx = None
                self._send_401()
                return None
            self.auth_user = canonical
            self.auth_kind = scheme_l
            self.auth_final_token = out  # the SPNEGO mechListMIC token goes back on the 200
            return canonical
        if self.auth_user is not None and self.auth_kind in ("negotiate", "ntlm"):
            return self.auth_user
        self._send_401()
        return None

    # -- verbs ------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/hvsim/"):
            self._control("POST", path)
            return
        body = self._read_body()
        if path.lower() != "/wsman":
            self._send(404)
            return
        hv = self.server.hvsim
        host = self.server.lab_host
        hv.stats_request(host)
        faults = hv.faults
        if faults.fire("http_500", host):
            hv.stats_fault("http_500")
            self._send(500, b"hvsim injected transient HTTP 500", "text/plain")
            return
        if faults.fire("drop_connection", host):
            hv.stats_fault("drop_connection")
            self._drop()
            return
        if faults.fire("auth_failure", host):
            hv.stats_fault("auth_failure")
            hv.stats_auth_failure(host)
            self.auth_ctx = None
            self.auth_user = None
            self._send_401()
            return

        user = self._authenticate()
        if user is None:
            return
        extra_headers = []
        if self.auth_final_token:
            extra_headers.append(("WWW-Authenticate", "Negotiate " + base64.b64encode(self.auth_final_token).decode()))
            self.auth_final_token = None

        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.startswith("multipart/encrypted") or content_type.startswith("multipart/x-multi-encrypted")
        if encrypted:
            if self.auth_ctx is None or not self.auth_ctx.complete:
                self._send(400, b"encrypted message without a security context", "text/plain", extra_headers)
                return
            try:
                soap_data = unwrap_message(self.auth_ctx, body, content_type)
            except Exception as exc:
                hv.log("decryption failed: %r" % exc)
                self._send(400, b"message decryption failed", "text/plain", extra_headers)
                return
        else:
            soap_data = body
        if not soap_data:
            # The clients' empty POST that only sets up the security context.
            self._send(200, headers=extra_headers)
            return
        if not encrypted and self.server.scheme == "http" and not hv.allow_unencrypted:
            fault = soap.WSManFault(
                soap.CODE_UNENCRYPTED_REFUSED,
                "The WinRM service is configured to reject unencrypted traffic (AllowUnencrypted=false). Use HTTPS "
                "or message encryption.",
                value="s:Sender",
                subcode="w:AccessDenied",
            )
            self._send(500, soap.fault_envelope(fault, ""), "application/soap+xml;charset=UTF-8", extra_headers)
            return

        outcome = hv.handle_soap(soap_data, self.server, user, self.client_address[0])
        if outcome.drop:
            self._drop()
            return
        if faults.latency:
            time.sleep(faults.latency)
        data = outcome.body
        ctype = "application/soap+xml;charset=UTF-8"
        if encrypted:
            ctype, data = wrap_message(self.auth_ctx, data)
        self._send(outcome.status, data, ctype, extra_headers)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/hvsim/"):
            self._control("GET", path)
            return
        self._send(404)

    # -- control endpoints ----------------------------------------------------------------------------
    def _control(self, method: str, path: str) -> None:
        hv = self.server.hvsim
        body = self._read_body() if method == "POST" else b""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        token = self.headers.get("X-Hvsim-Token") or (query.get("token") or [None])[0]
        authorised = token is not None and token == hv.control_token
        if not authorised:
            header = self.headers.get("Authorization", "")
            if header.lower().startswith("basic "):
                try:
                    user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
                    authorised = hv.check_password(user, password) is not None
                except Exception:
                    authorised = False
        if not authorised:
            self._send(401, b'{"error": "unauthorised"}', "application/json", [("WWW-Authenticate", 'Basic realm="hvsim"')])
            return
        try:
            status, result = hv.control(method, path, json.loads(body) if body else None)
        except Exception as exc:
            status, result = 400, {"error": str(exc)}
        self._send(status, json.dumps(result, default=str, sort_keys=True).encode(), "application/json")
