"""A local SMTP server (aiosmtpd) where Switchboard sends its e-mails, and a free port."""

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

SITE = "https://switchboard.example.org"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @property
    def subjects(self) -> list[str]:
        return [" ".join(str(message["Subject"]).split()) for message in self.messages]


class SmtpServer:
    """An SMTP server on 127.0.0.1 and a free port, keeping what it gets in `inbox`; it
    listens from start() to stop()."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = None

    def start(self):
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None


def email_to(server: SmtpServer, settings) -> None:
    """Point Switchboard's e-mail settings (pytest-django's `settings`) at the server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "switchboard@example.org"
