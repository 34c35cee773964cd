"""Where the pipeline's own notifier (`cdrflow notify`) sends incident and alarm events.

Nothing is sent while neither a webhook URL nor email recipients are set; sites with Grafana
alerting use the provisioned alert rules instead (dashboards/alerting.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

Status = Literal["open", "update", "resolved"]


class NotifySettings(BaseModel):
    webhook_url: str | None = Field(None, description="POST every event here as JSON; unset = no webhook")
    webhook_token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer …` (from a Secret)")
    webhook_rate_per_minute: float = Field(30, gt=0, description="Most webhook calls per minute; more wait their turn")
    webhook_statuses: list[Status] = Field(default_factory=lambda: ["open", "update", "resolved"],
                                           description="Which lifecycle events go to the webhook")
    webhook_timeout_s: float = Field(10, gt=0)

    smtp_host: str | None = Field(None, description="SMTP server; unset = no email")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS before authenticating")
    smtp_ca_file: Path | None = Field(None, description="CA bundle the SMTP server's certificate is checked "
                                      "against; unset = the system CAs")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(None, description="SMTP password (from a Secret, not the TOML)")
    email_from: str = "cdrflow@localhost"
    email_to: list[str] = Field(default_factory=list, description="Recipients; empty = no email")
    email_rate_per_minute: float = Field(6, gt=0, description="Most emails per minute; more wait their turn")
    # an open incident is updated every minute: mail only its opening and its end by default
    email_statuses: list[Status] = Field(default_factory=lambda: ["open", "resolved"],
                                         description="Which lifecycle events are emailed")
    smtp_timeout_s: float = Field(15, gt=0)

    retry_max_s: float = Field(60, gt=0, description="Longest pause between attempts at a down endpoint")
    first_start_lookback_s: float = Field(3600, gt=0, description="A notifier with no position yet skips events "
                                          "older than this (it does not page a topic's whole history)")

    @property
    def channels(self) -> list[str]:
        return [name for name, on in (("webhook", self.webhook_url), ("email", self.smtp_host and self.email_to))
                if on]
