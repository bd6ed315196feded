"""Card-testing and identity-abuse detection over failed payments (pure logic).

The Faust agent feeds each payment_failed event through ``fields_of`` and
``keys_for``, keeps a ``KeyState`` per key in a changelogged table and calls
``observe``; see the module docstrings of ``rules`` and ``engine``.
"""

from .engine import KeyState, alert_id, expires_at, observe
from .rules import (
    DEFAULT_RULES,
    EventFields,
    RiskRule,
    RuleError,
    build_overrides,
    fields_of,
    keys_for,
    rule_for,
    split_key,
)

__all__ = [
    "DEFAULT_RULES",
    "EventFields",
    "KeyState",
    "RiskRule",
    "RuleError",
    "alert_id",
    "build_overrides",
    "expires_at",
    "fields_of",
    "keys_for",
    "observe",
    "rule_for",
    "split_key",
]
