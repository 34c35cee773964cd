"""The notifier's two ways out: a webhook (JSON POST) and email (SMTP, STARTTLS, auth).

`send` returns once the receiver accepted the notification; it raises Undeliverable when
retrying cannot help (the receiver refuses this notification for good) and any other error
when it may: the caller retries those with backoff.
"""
from __future__ import annotations

import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate

import orjson

from cdrflow.infra.notify_settings import NotifySettings

from cdrflow.stream.notifications import Notification

# HTTP answers that mean "not now" rather than "never": retried
RETRY_HTTP = {408, 425, 429}


class Undeliverable(Exception):
    """The receiver refused this notification for good: it goes to the dead letters."""


class RateLimit:
    """A token bucket: at most `per_minute` sends in any minute, short bursts up to that many."""

    def __init__(self, per_minute: float, clock=time.monotonic):
        self.rate_s, self.capacity, self.clock = per_minute / 60.0, max(1.0, per_minute), clock
        self.tokens, self.at = self.capacity, clock()

    def wait_s(self) -> float:
        """Seconds until a send may go; 0 takes the token."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate_s)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_s


class Webhook:
    name = "webhook"

    def __init__(self, notify: NotifySettings):
        self.url, self.timeout_s = notify.webhook_url or "", notify.webhook_timeout_s
        self.token = notify.webhook_token.get_secret_value() if notify.webhook_token else None
        self.statuses, self.limit = set(notify.webhook_statuses), RateLimit(notify.webhook_rate_per_minute)

    def send(self, n: Notification) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": n.key, "User-Agent": "cdrflow-notify"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=orjson.dumps(n.body()), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in RETRY_HTTP:
                raise Undeliverable(f"webhook answered {exc.code} {exc.reason}") from None
            raise


class Email:
    name = "email"

    def __init__(self, notify: NotifySettings):
        self.notify = notify
        self.statuses, self.limit = set(notify.email_statuses), RateLimit(notify.email_rate_per_minute)

    def message(self, n: Notification) -> EmailMessage:
        message = EmailMessage()
        message["Subject"], message["From"] = f"cdrflow: {n.title}", self.notify.email_from
        message["To"], message["Date"] = ", ".join(self.notify.email_to), formatdate(usegmt=True)
        # the idempotency key as Message-ID: a mail system that sees it twice can tell
        message["Message-ID"] = f"<{n.id}.{n.version}@cdrflow>"
        message["X-Cdrflow-Key"] = n.key
        message.set_content(n.text())
        return message

    def send(self, n: Notification) -> None:
        s = self.notify
        with smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
            smtp.ehlo()
            if s.smtp_starttls:
                context = ssl.create_default_context(cafile=str(s.smtp_ca_file) if s.smtp_ca_file else None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value() if s.smtp_password else "")
            try:
                smtp.send_message(self.message(n))
            except smtplib.SMTPRecipientsRefused as exc:
                raise Undeliverable(f"every recipient refused: {exc.recipients}") from None
            except smtplib.SMTPResponseException as exc:
                if 500 <= exc.smtp_code < 600:
                    raise Undeliverable(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from None
                raise
