"""Reading one file field of a multipart/form-data body with the standard library (the fakes'
media uploads), without python-multipart."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser


def form_file(content_type: str, body: bytes, name: str) -> tuple[str, bytes] | None:
    """(filename, bytes) of the form field `name`, or None when the body has no such file."""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return str(part.get_filename() or ""), payload if isinstance(payload, bytes) else b""
    return None
