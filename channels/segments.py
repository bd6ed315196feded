"""SMS segment counting (3GPP TS 23.038 / 23.040).

A message that fits the GSM 7-bit default alphabet goes as GSM-7: 160 septets
in one segment, 153 per part once concatenated (the user data header takes
7); characters of the extension table cost two septets (escape + char) and
an escape pair is never split across parts.  Anything else goes as UCS-2:
70 UTF-16 code units in one segment, 67 per part; characters outside the
BMP (most emoji) take two units and a surrogate pair is never split.
"""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_encoding(text: str) -> str:
    """"GSM-7" or "UCS-2": how the text travels."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def sms_segments(text: str) -> int:
    """Number of SMS segments ``text`` is billed as (0 for an empty text)."""
    if is_gsm7(text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1 if units else 0
    parts, used = 1, 0
    for cost in units:  # pack greedily: a 2-unit character never straddles parts
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts
