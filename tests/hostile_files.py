"""Hostile worksheet files, built byte by byte so no fixture needs a tool or a download.

- `bomb_png`: a PNG header declaring a huge image, with no real pixel data behind it.
- `pdf_bytes`: a PDF of text pages; optionally encrypted with the standard security handler
  (revision 2, RC4 40-bit), exactly as PDF 1.4 specifies, so a real reader needs the password.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

PDF_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
"""The padding string of the PDF standard security handler (PDF 1.4, algorithm 3.2)."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG that declares width x height RGB pixels; its pixel data is a few bytes only, so
    decoding it would fail as truncated: a "too large" error proves it was never decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + PDF_PASSWORD_PAD)[:32]


def pdf_bytes(texts: list[str], *, password: str | None = None) -> bytes:
    """An A4 PDF with one page per text (Helvetica, and a blue box), encrypted with `password`
    (as both user and owner password) when one is given."""
    file_id = hashlib.md5("".join(texts).encode()).digest()
    permissions = -4
    key = None
    if password is not None:
        owner = _rc4(hashlib.md5(_padded(password)).digest()[:5], _padded(password))
        key = hashlib.md5(
            _padded(password) + owner + struct.pack("<i", permissions) + file_id
        ).digest()[:5]
        user = _rc4(key, PDF_PASSWORD_PAD)

    def stream(number: int, data: bytes) -> bytes:
        if key is not None:
            object_key = hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[:10]
            data = _rc4(object_key, data)
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    count = len(texts)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(texts):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        content = f"0 0 1 rg 72 500 200 100 re f BT /F1 36 Tf 72 700 Td ({text}) Tj ET"
        objects.append(stream(5 + 2 * i, content.encode("latin-1")))
    trailer_extra = b""
    if key is not None:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
            % (owner.hex().encode(), user.hex().encode(), permissions)
        )
        trailer_extra = b" /Encrypt %d 0 R" % len(objects)

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>]" % (
        len(objects) + 1,
        file_id.hex().encode(),
        file_id.hex().encode(),
    )
    out += trailer_extra + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
