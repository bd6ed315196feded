"""What a recipient allows: opt-outs, quiet hours, locale, time zone.

Rules (the table in rules.py says what the shop wants; this narrows it):
- an opted-out category or channel is dropped;
- card_key_ready always reaches the buyer on email, else in-app, whatever the
  opt-outs say: it is the goods they paid for;
- quiet hours defer SMS (every priority) and email/in-app of *normal* priority
  (announcements, marketing) to the end of the window; urgent and important
  email and in-app go at once;
- locale: preferences > the event's buyer locale > merchant default > zh-CN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..merchants import MerchantConfig
from .request import Route

FALLBACK_LOCALE = "zh-CN"
ALWAYS_DELIVERED = frozenset({"card_key_ready"})  # never opted out entirely
FLOOR_CHANNELS = ("email", "inapp")
UNSUBSCRIBE = {"zh": "回复TD退订", "en": "Reply STOP to unsubscribe"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Preferences:
    recipient_id: str = ""
    locale: str | None = None
    timezone: str | None = None
    opted_out_categories: frozenset[str] = frozenset()
    opted_out_channels: frozenset[str] = frozenset()
    quiet_hours: tuple[time, time] | None = None  # local start, end; may wrap midnight
    vip_tier: int = 0

    @classmethod
    def from_record(cls, rec: Mapping) -> Preferences:
        """From a ``preferences`` Avro record dict. A malformed quiet-hours
        value is ignored rather than blocking the recipient's notifications."""
        quiet = rec.get("quiet_hours")
        return cls(
            recipient_id=rec.get("recipient_id", ""),
            locale=rec.get("locale") or None,
            timezone=rec.get("timezone") or None,
            opted_out_categories=frozenset(rec.get("opted_out_categories") or ()),
            opted_out_channels=frozenset(rec.get("opted_out_channels") or ()),
            quiet_hours=_parse_quiet(quiet) if quiet else None,
            vip_tier=int(rec.get("vip_tier") or 0),
        )

    def allows(self, category: str, channel: str) -> bool:
        return category not in self.opted_out_categories and channel not in self.opted_out_channels


NO_PREFERENCES = Preferences()


def _parse_quiet(quiet: Mapping) -> tuple[time, time] | None:
    parsed = [_HHMM.match(str(quiet.get(k, ""))) for k in ("start", "end")]
    if not all(parsed):
        return None
    start, end = (time(int(m.group(1)), int(m.group(2))) for m in parsed if m)
    return None if start == end else (start, end)


def resolve_locale(prefs: Preferences | None, buyer_locale: str | None,
                   merchant: MerchantConfig | None) -> str:
    for candidate in (prefs and prefs.locale, buyer_locale, merchant and merchant.default_locale):
        if candidate:
            return candidate
    return FALLBACK_LOCALE


def resolve_timezone(prefs: Preferences | None, buyer_tz: str | None) -> str:
    """First valid IANA zone of preferences, buyer; else UTC."""
    for candidate in (prefs and prefs.timezone, buyer_tz):
        if candidate:
            try:
                ZoneInfo(candidate)
                return candidate
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


def quiet_until(now_ms: int, quiet: tuple[time, time] | None, tz: str) -> int | None:
    """End of the quiet window ``now_ms`` falls in (epoch ms), or None.

    Works on local wall-clock time, so a window that wraps midnight or spans a
    DST change ends at the right local time, not a fixed number of hours later.
    """
    if quiet is None:
        return None
    start, end = quiet
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone)
    now_t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= now_t < end
        end_day = local.date()
    else:  # wraps midnight, e.g. 22:00-07:00
        inside = now_t >= start or now_t < end
        end_day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    end_local = datetime.combine(end_day, end, tzinfo=zone)
    # An end inside a spring-forward gap reads with the pre-gap offset (PEP 495
    # fold=0), i.e. later on the wall clock: quiet runs longer, never shorter.
    return max(int(end_local.astimezone(UTC).timestamp() * 1000), now_ms)


def defers(channel: str, priority: str) -> bool:
    return channel == "sms" or priority == "normal"


def unsubscribe_line(locale: str) -> str:
    return UNSUBSCRIBE["zh" if locale.lower().startswith("zh") else "en"]


def allowed_routes(template: str, category: str, priority: str, wanted: list[Route],
                   prefs: Preferences, now_ms: int, tz: str) -> list[Route]:
    """Narrow the shop's wanted routes (already only channels the buyer has a
    contact for) to what the recipient allows, with quiet-hours deferral."""
    routes = [r for r in wanted if prefs.allows(category, r.channel)]
    if template in ALWAYS_DELIVERED and not any(r.channel in FLOOR_CHANNELS for r in routes):
        floor = next((r for ch in FLOOR_CHANNELS for r in wanted if r.channel == ch), None)
        if floor is not None:
            routes.append(floor)
    quiet_end = quiet_until(now_ms, prefs.quiet_hours, tz)
    if quiet_end is None:
        return routes
    return [Route(r.channel, r.address, quiet_end) if defers(r.channel, priority) else r
            for r in routes]


def fallbacks_for(route: Route, reachable: list[Route], prefs: Preferences) -> list[Route]:
    """Urgent only: SMS failed -> email, email failed -> SMS (if the recipient has
    the other contact and has not opted out of that channel)."""
    other = {"sms": "email", "email": "sms"}.get(route.channel)
    return [Route(r.channel, r.address) for r in reachable
            if r.channel == other and r.channel not in prefs.opted_out_channels]
