"""The worker's web API on the real broker: the in-app inbox and card-key link
redemption, with one worker, two workers sharing partitions, and a restart."""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid

import pytest
from confluent_kafka import Producer

from schemas.codec import REGISTRY
from streams import cardkey, context
from streams.catalog import channel_topic
from streams.routing import route
from streams.sample import sample_events
from tests.support import BOOTSTRAP, wait_for

pytestmark = pytest.mark.broker

SECRET = "integration-link-secret-" + uuid.uuid4().hex
PAGE = "https://shop.test/keys/{ref}?from=link"


def call(worker, method: str, path: str,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=15)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def settled(worker, method: str, path: str, timeout: float = 90.0,
            headers: dict[str, str] | None = None):
    """The answer once the worker no longer says its partitions are moving (503)."""
    def answer():
        got = call(worker, method, path, headers)
        return got if got[0] != 503 else None
    return wait_for(answer, timeout, 0.3, f"{method} {path} on :{worker.port} to answer")


def error_code(body: bytes) -> str:
    return json.loads(body)["error"]


def inapp_request() -> dict:
    """A card_key_ready notification for the in-app channel, routed from sample data."""
    _, event = next(e for e in sample_events(60, seed=5) if e[0] == "card_key_ready")
    merchant = context.merchants()[event["envelope"]["merchant_id"]]
    requests = route(event, None, merchant, int(time.time() * 1000),
                     event_type="card_key_ready")
    request = next(r for r in requests if r["channel"] == "inapp")
    # a recipient of its own, so the test reads only its own inbox
    return {**request, "recipient_id": f"b-{uuid.uuid4().hex[:10]}"}


def publish_request(prefix: str, request: dict) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    producer.produce(f"{prefix}{channel_topic('inapp')}",
                     REGISTRY.encode("notification_request", request),
                     request["order_id"].encode())
    assert producer.flush(30) == 0


def inbox_of(worker, recipient_id: str, count: int = 1,
             headers: dict[str, str] | None = None) -> dict:
    def listed():
        status, _, body = call(worker, "GET", f"/inbox/{recipient_id}", headers)
        if status != 200:
            return None
        view = json.loads(body)
        return view if len(view["items"]) >= count else None
    return wait_for(listed, 90, 0.3, f"{count} item(s) in the inbox")


def test_inbox_lists_in_app_notifications_and_marks_them_read(prefix, worker_factory):
    worker = worker_factory(ORDERCAST_LINK_SECRET=SECRET)
    request = inapp_request()
    rid, nid = request["recipient_id"], request["notification_id"]
    status, _, body = settled(worker, "GET", f"/inbox/{rid}")
    assert (status, json.loads(body)) == (200, {"recipient_id": rid, "unread": 0, "items": []})

    publish_request(prefix, request)
    view = inbox_of(worker, rid)
    assert view["unread"] == 1
    [item] = view["items"]
    assert item["notification_id"] == nid and item["read"] is False
    assert item["order_id"] == request["order_id"]
    assert request["variables"]["order_no"] in item["title"] + item["body"]

    assert settled(worker, "POST", f"/inbox/{rid}/nope/read")[0] == 404
    assert settled(worker, "POST", f"/inbox/b-unknown/{nid}/read")[0] == 404
    for _ in range(2):  # marking read again changes nothing
        status, _, body = settled(worker, "POST", f"/inbox/{rid}/{nid}/read")
        assert (status, json.loads(body)) == (200, {"notification_id": nid, "read": True,
                                                    "unread": 0})
    view = inbox_of(worker, rid)
    assert view["unread"] == 0 and view["items"][0]["read"] is True

    # the in-app body carries a signed link that this worker redeems once
    token = re.search(r"/k/([A-Za-z0-9_.\-]+)", item["body"]).group(1)
    status, headers, _ = settled(worker, "GET", f"/k/{token}")
    assert status == 303
    assert headers["Location"] == (
        f"https://shop.example/card-keys/{request['variables']['card_key_ref']}")
    assert error_code(settled(worker, "GET", f"/k/{token}")[2]) == "link_used"


def test_card_key_link_works_once_even_after_a_worker_restart(prefix, worker_factory):
    env = {"ORDERCAST_LINK_SECRET": SECRET, "ORDERCAST_CARD_KEY_PAGE_URL": PAGE}
    first = worker_factory(**env)
    ref = "ck_7f3a/22"
    token = cardkey.mint(ref, "n-1", SECRET)

    status, headers, _ = settled(first, "GET", f"/k/{token}")
    assert status == 303
    assert headers["Location"] == "https://shop.test/keys/ck_7f3a%2F22?from=link"
    assert headers["Cache-Control"] == "no-store"

    sig = token.rsplit(".", 1)[1]
    tampered = token[: -len(sig)] + sig[::-1]
    expired = cardkey.mint(ref, "n-1", SECRET, ttl_s=60, now=time.time() - 3600)
    forged = cardkey.mint(ref, "n-1", "not-the-worker-secret")
    refusals = {
        token: (410, "link_used"),
        tampered: (400, "link_invalid"),
        forged: (400, "link_invalid"),
        expired: (410, "link_expired"),
        "garbage": (400, "link_invalid"),
    }
    for bad, (want_status, want_code) in refusals.items():
        status, _, body = settled(first, "GET", f"/k/{bad}")
        assert (status, error_code(body)) == (want_status, want_code)
        assert ref.encode() not in body and b"ck_7f3a" not in body
        assert SECRET.encode() not in body

    first.kill()
    second = worker_factory(**env)
    status, _, body = settled(second, "GET", f"/k/{token}", timeout=120)
    assert (status, error_code(body)) == (410, "link_used")
    fresh = cardkey.mint("ck_other", "n-2", SECRET)
    assert settled(second, "GET", f"/k/{fresh}")[0] == 303

    logs = first.log.read_text(errors="replace") + second.log.read_text(errors="replace")
    for secret_thing in (SECRET, "ck_7f3a", token):
        assert secret_thing not in logs


def test_two_workers_answer_for_each_other(prefix, worker_factory):
    inbox_token = "inbox-" + uuid.uuid4().hex
    backend = {"Authorization": f"Bearer {inbox_token}"}
    env = {"ORDERCAST_LINK_SECRET": SECRET, "ORDERCAST_CARD_KEY_PAGE_URL": PAGE,
           "ORDERCAST_INBOX_TOKEN": inbox_token}
    workers = [worker_factory(**env), worker_factory(**env)]
    for w in workers:
        settled(w, "GET", "/inbox/b-warmup", headers=backend)

    # each token's uses alternate between the workers, so some are forwarded
    for i in range(8):
        token = cardkey.mint(f"ck_{i}", f"n-{i}", SECRET)
        a, b = workers[i % 2], workers[1 - i % 2]
        status, headers, _ = settled(a, "GET", f"/k/{token}")
        assert (status, headers["Location"]) == (303, f"https://shop.test/keys/ck_{i}?from=link")
        for again in (b, a):
            status, _, body = settled(again, "GET", f"/k/{token}")
            assert (status, error_code(body)) == (410, "link_used")

    request = inapp_request()
    rid, nid = request["recipient_id"], request["notification_id"]
    publish_request(prefix, request)
    # one of the two forwards each request to the owner, token and all
    views = [inbox_of(w, rid, headers=backend) for w in workers]
    assert views[0] == views[1]
    for w in workers:
        for refused in ({}, {"Authorization": f"Bearer {inbox_token}x"},
                        {"Authorization": inbox_token}):
            for method, path in (("GET", f"/inbox/{rid}"), ("POST", f"/inbox/{rid}/{nid}/read")):
                status, headers, body = call(w, method, path, refused)
                assert (status, error_code(body)) == (401, "unauthorized")
                assert headers["WWW-Authenticate"].startswith("Bearer")
    assert inbox_of(workers[0], rid, headers=backend)["unread"] == 1, "refused: nothing read"
    assert settled(workers[1], "POST", f"/inbox/{rid}/{nid}/read", headers=backend)[0] == 200
    assert settled(workers[0], "POST", f"/inbox/{rid}/{nid}/read", headers=backend)[0] == 200
    assert all(inbox_of(w, rid, headers=backend)["unread"] == 0 for w in workers)
