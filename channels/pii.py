"""Masking of personal data (email addresses, phone numbers) for logs and errors.

``a***@example.com`` and ``+86138****5678`` keep enough to tell two recipients
apart in an incident without exposing either.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^\s@<>\"',;:()\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]{2,}")
# 7+ digits, optionally led by "+" and broken by spaces or dashes
_PHONE = re.compile(r"\+?\d(?:[\s-]?\d){6,}")


def mask_email(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(number: str) -> str:
    """Hide the four digits before the last four: ``+8613812345678`` ->
    ``+86138****5678``. Short strings keep only their last two characters."""
    compact = re.sub(r"[\s()-]", "", number)
    if len(compact) < 9:
        return "*" * max(len(compact) - 2, 1) + compact[-2:]
    return f"{compact[:-8]}****{compact[-4:]}"


def mask_address(address: str) -> str:
    """Mask an email address or a phone number, whichever it looks like."""
    return mask_email(address) if "@" in address else mask_phone(address)


def scrub(text: str) -> str:
    """Mask every email address and phone number found in free text (a
    provider's error message can quote the recipient)."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
