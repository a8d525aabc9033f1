"""The fault suite's SMTP sink tells a copy its sender heard accepted (QUIT after the "250") from
one it may not have (the connection dropped instead): the checks allow a resend only after the
latter, so this must not be fooled either way."""

from __future__ import annotations

import socket
from email.message import EmailMessage

import aiosmtplib
import pytest

from tests.faults.mailbox import NOTIFICATION_HEADER, Mailbox

pytestmark = pytest.mark.faults


def _message(notice: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "tickets@example.com"
    message["To"] = "ana@example.com"
    message["Subject"] = "Your tickets"
    message[NOTIFICATION_HEADER] = notice
    message.set_content("See you at the show.")
    return message


def _send_and_drop(port: int, notice: str) -> None:
    """What a sender whose timeout struck before our "250" leaves behind: the whole message,
    then a closed connection and no QUIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def say(line: bytes) -> bytes:
            sock.sendall(line + b"\r\n")
            answer = reader.readline()
            while answer[3:4] == b"-":  # a multi-line answer (EHLO)
                answer = reader.readline()
            return answer

        assert reader.readline().startswith(b"220")
        assert say(b"EHLO sender.example").startswith(b"250")
        assert say(b"MAIL FROM:<tickets@example.com>").startswith(b"250")
        assert say(b"RCPT TO:<ana@example.com>").startswith(b"250")
        assert say(b"DATA").startswith(b"354")
        body = _message(notice).as_bytes().replace(b"\n", b"\r\n")
        assert say(body + b"\r\n.").startswith(b"250")


async def test_a_copy_counts_as_heard_only_when_its_sender_said_quit() -> None:
    box = Mailbox().start()
    try:
        await aiosmtplib.send(_message("heard"), hostname="127.0.0.1", port=box.port)
        _send_and_drop(box.port, "dropped")
        await aiosmtplib.send(_message("dropped"), hostname="127.0.0.1", port=box.port)
        await aiosmtplib.send(_message("heard"), hostname="127.0.0.1", port=box.port)
    finally:
        box.stop()
    assert box.counts() == {"heard": 2, "dropped": 2}
    # "heard" was sent twice by a sender that knew the first had arrived: a real duplicate.
    assert box.heard_counts() == {"heard": 2, "dropped": 1}
