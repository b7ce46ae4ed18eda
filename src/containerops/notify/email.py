"""Email over SMTP (the original ``{type: mail, address: ...}`` lands here too).

The server's SMTP settings come from ``COOPS_SMTP_HOST`` (default localhost),
``COOPS_SMTP_PORT`` (25), ``COOPS_SMTP_FROM``, and optionally
``COOPS_SMTP_USER``/``COOPS_SMTP_PASSWORD`` and ``COOPS_SMTP_STARTTLS=1``; a
receiver may name its own ``host``, ``port`` and ``from``. ``smtplib`` is
blocking, so the send runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from containerops.model.hooks import Receiver
from containerops.notify.summary import RunSummary


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    sender: str = "containerops@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> SmtpSettings:
        port = os.environ.get("COOPS_SMTP_PORT", "")
        return cls(
            host=os.environ.get("COOPS_SMTP_HOST") or "localhost",
            port=int(port) if port.isdigit() else 25,
            sender=os.environ.get("COOPS_SMTP_FROM") or "containerops@localhost",
            user=os.environ.get("COOPS_SMTP_USER") or None,
            password=os.environ.get("COOPS_SMTP_PASSWORD") or None,
            starttls=os.environ.get("COOPS_SMTP_STARTTLS") == "1",
        )


def compose(receiver: Receiver, summary: RunSummary, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[ContainerOps] {summary.title} {summary.status}"
    mail["From"] = sender
    mail["To"] = ", ".join(receiver.to)
    mail.set_content(summary.text() + "\n")
    return mail


def _send(settings: SmtpSettings, mail: EmailMessage) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user and settings.password:
            smtp.login(settings.user, settings.password)
        smtp.send_message(mail)


def target(receiver: Receiver, settings: SmtpSettings) -> str:
    return f"{', '.join(receiver.to)} via {receiver.host or settings.host}:{receiver.port or settings.port}"


async def send(receiver: Receiver, settings: SmtpSettings, summary: RunSummary) -> None:
    chosen = SmtpSettings(
        host=receiver.host or settings.host,
        port=receiver.port or settings.port,
        sender=receiver.sender or settings.sender,
        user=settings.user,
        password=settings.password,
        starttls=settings.starttls,
        timeout=settings.timeout,
    )
    await asyncio.to_thread(_send, chosen, compose(receiver, summary, chosen.sender))
