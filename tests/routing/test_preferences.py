"""Quiet hours on wall-clock time, opt-outs, the card-key floor, locale and zone."""

from __future__ import annotations

from datetime import time

import pytest

from streams.routing.preferences import (
    NO_PREFERENCES,
    Preferences,
    allowed_routes,
    quiet_until,
    resolve_locale,
    resolve_timezone,
    unsubscribe_line,
)
from streams.routing.request import Route

from .factories import merchant, ms, prefs

NIGHT = (time(22, 0), time(7, 0))
LUNCH = (time(12, 0), time(13, 30))


@pytest.mark.parametrize("tz, window, now, until", [
    # Shanghai (UTC+8): the local date is a day ahead of UTC late in the UTC day
    ("Asia/Shanghai", NIGHT, "2024-01-01T15:30", "2024-01-01T23:00"),  # 23:30 local, wraps
    ("Asia/Shanghai", NIGHT, "2024-01-01T19:00", "2024-01-01T23:00"),  # 03:00 local, after 0h
    ("Asia/Shanghai", NIGHT, "2024-01-01T13:59", None),  # 21:59 local
    ("Asia/Shanghai", NIGHT, "2024-01-01T14:00", "2024-01-01T23:00"),  # 22:00 sharp: quiet
    ("Asia/Shanghai", NIGHT, "2024-01-01T23:00", None),  # 07:00 sharp: over
    ("Asia/Shanghai", LUNCH, "2024-01-01T04:15", "2024-01-01T05:30"),  # same-day window
    ("Asia/Shanghai", LUNCH, "2024-01-01T05:30", None),
    ("UTC", NIGHT, "2024-01-01T23:59", "2024-01-02T07:00"),
    # New York, spring forward (2024-03-10 02:00 EST -> 03:00 EDT): the night is an hour
    # shorter; 07:00 EDT is 11:00 UTC, not 12:00
    ("America/New_York", NIGHT, "2024-03-10T04:00", "2024-03-10T11:00"),  # 23:00 EST
    ("America/New_York", NIGHT, "2024-03-10T08:00", "2024-03-10T11:00"),  # 04:00 EDT
    # New York, fall back (2024-11-03 02:00 EDT -> 01:00 EST): 07:00 EST is 12:00 UTC
    ("America/New_York", NIGHT, "2024-11-03T03:00", "2024-11-03T12:00"),  # 23:00 EDT
    ("America/New_York", NIGHT, "2024-11-03T06:30", "2024-11-03T12:00"),  # 01:30 EDT (1st)
    ("America/New_York", NIGHT, "2024-11-03T11:59", "2024-11-03T12:00"),  # 06:59 EST
    # an end inside the spring-forward gap (02:30 does not exist that night) reads as
    # 02:30 EST = 03:30 EDT: quiet lasts a little longer, never shorter
    ("America/New_York", (time(22, 0), time(2, 30)), "2024-03-10T06:00", "2024-03-10T07:30"),
    # Auckland crosses the date line the other way (UTC+13 in January)
    ("Pacific/Auckland", NIGHT, "2024-01-01T10:00", "2024-01-01T18:00"),  # 23:00 local
])
def test_quiet_until(tz, window, now, until):
    assert quiet_until(ms(now), window, tz) == (ms(until) if until else None)


def test_no_window_means_never_quiet():
    assert quiet_until(ms("2024-01-01T15:30"), None, "Asia/Shanghai") is None


@pytest.mark.parametrize("quiet, parsed", [
    ({"start": "22:00", "end": "07:00"}, NIGHT),
    ({"start": "7:00", "end": "08:00"}, None),  # not HH:MM
    ({"start": "24:00", "end": "07:00"}, None),
    ({"start": "22:00", "end": "22:00"}, None),  # empty window
    (None, None),
])
def test_from_record_parses_quiet_hours_leniently(quiet, parsed):
    assert prefs(quiet_hours=quiet).quiet_hours == parsed


def test_from_record_fields():
    p = prefs(locale="en-US", timezone="Europe/Berlin", opted_out_categories=["marketing"],
              opted_out_channels=["sms"], vip_tier=3)
    assert p == Preferences("b-1", "en-US", "Europe/Berlin", frozenset({"marketing"}),
                            frozenset({"sms"}), None, 3)
    assert not p.allows("marketing", "email") and not p.allows("transaction", "sms")
    assert p.allows("transaction", "email")


@pytest.mark.parametrize("p, buyer_tz, expected", [
    (prefs(timezone="Europe/Berlin"), "Asia/Shanghai", "Europe/Berlin"),
    (prefs(timezone="Mars/Olympus"), "Asia/Shanghai", "Asia/Shanghai"),
    (None, "Not/AZone", "UTC"),
    (NO_PREFERENCES, "", "UTC"),
])
def test_resolve_timezone(p, buyer_tz, expected):
    assert resolve_timezone(p, buyer_tz) == expected


def test_resolve_locale_falls_back_to_zh_cn():
    assert resolve_locale(None, None, None) == "zh-CN"
    assert resolve_locale(None, None, merchant(default_locale="en-US")) == "en-US"


@pytest.mark.parametrize("locale, line", [("zh-CN", "回复TD退订"), ("zh-TW", "回复TD退订"),
                                          ("en-US", "Reply STOP to unsubscribe"),
                                          ("de-DE", "Reply STOP to unsubscribe")])
def test_unsubscribe_line(locale, line):
    assert unsubscribe_line(locale) == line


WANTED = [Route("sms", "+8613812345678"), Route("email", "b@x.example"), Route("inapp", "b-1")]


@pytest.mark.parametrize("template, opted, wanted, expected", [
    ("card_key_ready", ["sms", "email", "inapp"], WANTED, ["email"]),
    ("card_key_ready", ["email", "inapp"], WANTED, ["sms", "email"]),  # sms alone is no key
    ("card_key_ready", ["sms", "email", "inapp"], WANTED[::2], ["inapp"]),  # no email
    ("card_key_ready", ["sms", "email", "inapp"], WANTED[:1], []),  # nowhere to put it
    ("payment_succeeded", ["sms", "email", "inapp"], WANTED, []),
])
def test_card_key_floor(template, opted, wanted, expected):
    p = prefs(opted_out_channels=opted)
    routes = allowed_routes(template, "transaction", "urgent", wanted, p, 0, "UTC")
    assert [r.channel for r in routes] == expected


@pytest.mark.parametrize("priority, deferred", [
    ("urgent", {"sms"}), ("important", {"sms"}), ("normal", {"sms", "email", "inapp"}),
])
def test_quiet_hours_defer_sms_always_and_everything_normal(priority, deferred):
    p = prefs(quiet_hours={"start": "22:00", "end": "07:00"})
    now, end = ms("2024-01-01T15:30"), ms("2024-01-01T23:00")
    routes = allowed_routes("x", "transaction", priority, WANTED, p, now, "Asia/Shanghai")
    assert {r.channel for r in routes if r.not_before == end} == deferred
    assert {r.channel for r in routes if r.not_before is None} == {
        "sms", "email", "inapp"} - deferred
