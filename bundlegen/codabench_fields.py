"""Codabench's rules for single fields that need nothing else of the bundle: an image's type and size from its
header (the logo), and an e-mail address as Django's EmailValidator reads it (contact_email).

Facts: codalab/codabench's models (CharField(max_length=256), EmailField) and Pillow's decompression-bomb limit.
"""
from __future__ import annotations

import re

IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF"}
NAME_LIMIT = 256  # CharField(max_length=256): Competition.title, Phase.name, Task.name
# Codabench sets no byte limit on the logo; Pillow opens it (logo_icon, Base64ImageField) and refuses an image over
# twice Image.MAX_IMAGE_PIXELS (89,478,485) with DecompressionBombError.
MAX_LOGO_PIXELS = 2 * 89_478_485
# Django's EmailValidator (django/core/validators.py), which Competition.contact_email (an EmailField) runs.
EMAIL_USER = re.compile(r"(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
                        r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z)',
                        re.IGNORECASE)
EMAIL_DOMAIN = re.compile(r"((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z", re.IGNORECASE)
EMAIL_LITERAL = re.compile(r"\[([0-9.]+|IPv6:[0-9A-F:.]+)\]\Z", re.IGNORECASE)


def image_type(data: bytes) -> str | None:
    for signature, name in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def image_pixels(data: bytes) -> int | None:
    """Width × height from the image's header (None when the header is not understood)."""
    size = None
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    elif data.startswith(b"GIF") and len(data) >= 10:
        size = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    elif data.startswith(b"\xff\xd8"):
        size = jpeg_size(data)
    elif data[:4] == b"RIFF" and len(data) >= 30:
        size = webp_size(data)
    return size[0] * size[1] if size else None


def webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit width - 1 and height - 1
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the key frame's start code
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit width - 1 and height - 1 after the 0x2F signature
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in a JPEG's start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC)."""
    i = 2
    while i + 9 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + length
    return None


def email_problem(value) -> str | None:
    """Why Django's EmailValidator (Competition.contact_email is an EmailField, max_length 256) refuses value."""
    if not isinstance(value, str) or "@" not in value:
        return f"{value!r} is not an e-mail address"
    if len(value) > NAME_LIMIT:
        return f"{len(value)} characters; at most {NAME_LIMIT}"
    user, domain = value.rsplit("@", 1)
    if not EMAIL_USER.match(user):
        return f"{value!r}: the part before @ is not valid"
    if domain != "localhost" and not EMAIL_DOMAIN.match(domain) and not EMAIL_LITERAL.match(domain):
        try:  # Django retries an internationalized domain in its ASCII (punycode) form
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_domain = ""
        if not EMAIL_DOMAIN.match(ascii_domain):
            return f"{value!r}: {domain!r} is not a valid domain"
    return None
