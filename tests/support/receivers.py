"""Real notification receivers on loopback: an HTTP server that records webhook calls and an SMTP
server (aiosmtpd) that insists on STARTTLS and AUTH before it takes mail."""
from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class WebhookReceiver:
    """POSTs to any path are kept as (headers, JSON body); answers 204."""

    def __init__(self, port: int):
        self.calls: list[tuple[dict, dict]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), valid from now for two days."""
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class SmtpReceiver:
    """aiosmtpd on loopback: STARTTLS required, AUTH (PLAIN/LOGIN) with one user, mails kept as bytes."""

    def __init__(self, port: int, cert: Path, key: Path, user: str, password: str):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.mails: list[bytes] = []
        self.refused_logins = 0
        mails = self.mails

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mails.append(envelope.original_content or envelope.content)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
            if not ok:
                self.refused_logins += 1
            return AuthResult(success=ok)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                                     require_starttls=True, authenticator=authenticate, auth_require_tls=True)
        self.controller.start()

    def message_ids(self) -> list[str]:
        from email import message_from_bytes

        return [message_from_bytes(m)["X-Cdrflow-Key"] for m in self.mails]

    def close(self) -> None:
        self.controller.stop()
