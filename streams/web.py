"""The worker's HTTP endpoints for people: the in-app inbox, card-key link
redemption and the template preview (metrics and probes: streams.health).

Only ``/k/{token}`` is meant for buyers' browsers. ``/inbox`` is for the
shop's backend, which calls it for its logged-in buyer with the bearer token
``ORDERCAST_INBOX_TOKEN`` (inbox items carry card-key links). ``/templates``
is a review tool for staff.

Inbox and redemption state lives in tables partitioned across the workers, so
a request is answered by the worker that owns its key's partition; any other
worker forwards it there. (faust's ``app.table_route`` hashes the key with the
producer's metadata, which aiokafka's producer only holds for topics it has
written to, so it fails with a TypeError; and its forwarding follows redirects
and drops headers such as Location.)
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

import aiohttp
from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TableT
from faust.web import Request, Response, View
from yarl import URL

from . import cardkey, context, inbox, links, preview
from . import settings as cfg
from .app import app
from .clock import now_ms
from .merchants import MerchantConfig
from .outbox import durable_put, renderer
from .render import TemplateProblem, UnknownTemplate, sample_variables

log = logging.getLogger(__name__)

FORWARDED = "X-Ordercast-Forwarded"  # set on a request sent on to the key's owner
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=10)
NO_STORE = {"Cache-Control": "no-store"}
PASSED_IN = ("Authorization",)  # request headers a forwarded request keeps
PASSED_ON = ("Location", "Cache-Control", "Referrer-Policy", "Retry-After",
             "Content-Security-Policy")  # response headers a forwarded answer keeps


# -- answering on the worker that owns a table key ---------------------------

def owner_of(partition: int, topic: str,
             metadata: Mapping[str, Mapping[str, Iterable[int]]]) -> URL | None:
    """The web URL of the worker holding ``partition`` of ``topic`` as active,
    from faust's assignment metadata (``app.router.table_metadata``)."""
    for url, topics in metadata.items():
        if partition in topics.get(topic, ()):
            return URL(url)
    return None


def _owner(table: TableT, key: str) -> tuple[int, URL] | None:
    if app.rebalancing:
        return None
    topic = table.changelog_topic.get_topic_name()
    # the producer's partitioner over the consumer's metadata (the producer only
    # holds metadata for topics it has written to)
    try:
        partition = app.consumer.key_partition(topic, key.encode())
    except ConsumerNotStarted:  # starting up or shutting down
        return None
    if partition is None:
        return None
    owner = owner_of(partition, topic, app.router.table_metadata(table.name))
    return None if owner is None else (partition, owner)


def _is_me(url: URL) -> bool:
    me = URL(str(app.conf.canonical_url))
    return (url.host, url.port) == (me.host, me.port)


def _unavailable(view: View, reason: str) -> Response:
    return view.json({"error": "unavailable", "reason": reason,
                      "message": "partition is moving; retry shortly"},
                     status=503, headers={"Retry-After": "1"})


async def _forward(view: View, request: Request, owner: URL) -> Response:
    target = request.url.with_scheme(owner.scheme).with_host(owner.host).with_port(owner.port)
    try:
        async with app.http_client.request(
                request.method, target, data=await request.read() or None,
                headers={FORWARDED: "1", **{k: request.headers[k] for k in PASSED_IN
                                            if k in request.headers}},
                allow_redirects=False,
                timeout=FORWARD_TIMEOUT) as resp:
            body = await resp.read()
            headers = {k: resp.headers[k] for k in PASSED_ON if k in resp.headers}
            return view.bytes(body, content_type=resp.content_type, status=resp.status,
                              headers=headers)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("owner %s:%s did not answer: %s", owner.host, owner.port,
                    type(exc).__name__)
        return _unavailable(view, "owner_unreachable")


async def on_owner(view: View, request: Request, table: TableT, key: str,
                   handle: Callable[[int], Awaitable[Response]]) -> Response:
    """``handle(partition)`` here if this worker owns ``key``'s partition of
    ``table``, else the owner's answer; 503 while partitions move."""
    found = _owner(table, key)
    if found is None:
        return _unavailable(view, "no_owner")
    partition, owner = found
    if _is_me(owner):
        return await handle(partition)
    if request.headers.get(FORWARDED):  # sent here as owner, but it has moved on
        return _unavailable(view, "owner_moved")
    return await _forward(view, request, owner)


# -- in-app inbox -------------------------------------------------------------

def bearer_ok(authorization: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries the token (always, with no
    token configured); compared in constant time."""
    if token is None:
        return True
    scheme, _, credentials = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.encode(),
                                                              token.encode())


def _unauthorized(view: View, request: Request) -> Response | None:
    token = cfg.worker().inbox_token
    if bearer_ok(request.headers.get("Authorization"),
                 token.get_secret_value() if token else None):
        return None
    return view.json({"error": "unauthorized"}, status=401, headers={
        "WWW-Authenticate": 'Bearer realm="ordercast-inbox"', **NO_STORE})


@app.page("/inbox/{recipient_id}")
class Inbox(View):
    async def get(self, request: Request, recipient_id: str) -> Response:
        async def read(partition: int) -> Response:
            return self.json(inbox.view(recipient_id, inbox.inboxes.get(recipient_id)),
                             headers=NO_STORE)  # items carry card-key links

        if (refused := _unauthorized(self, request)) is not None:
            return refused
        return await on_owner(self, request, inbox.inboxes, recipient_id, read)


@app.page("/inbox/{recipient_id}/{notification_id}/read")
class InboxRead(View):
    async def post(self, request: Request, recipient_id: str,
                   notification_id: str) -> Response:
        if (refused := _unauthorized(self, request)) is not None:
            return refused

        async def mark(partition: int) -> Response:
            items = inbox.inboxes.get(recipient_id)
            marked = inbox.mark_read(items, notification_id)
            if marked is None:
                return self.json({"error": "unknown_notification"}, status=404)
            if marked != items:
                await durable_put(inbox.inboxes, partition, recipient_id, marked)
            return self.json({"notification_id": notification_id, "read": True,
                              "unread": inbox.unread(marked)})

        return await on_owner(self, request, inbox.inboxes, recipient_id, mark)


@app.task
async def warn_open_inbox() -> None:
    if cfg.worker().inbox_token is None and cfg.worker().role != "risk":
        log.warning("ORDERCAST_INBOX_TOKEN is not set: /inbox answers anyone who "
                    "reaches the web port")


# -- card-key links -------------------------------------------------------------

@app.page("/k/{token}")
class CardKeyLink(View):
    async def get(self, request: Request, token: str) -> Response:
        try:
            claims = cardkey.verify(token, cfg.worker().link_secret)
        except cardkey.CardKeyLinkError as exc:
            return self._rejected(exc)

        async def redeem(partition: int) -> Response:
            try:
                links.check_unused(claims)
            except cardkey.TokenUsed as exc:
                return self._rejected(exc)
            table = links.redemptions
            try:  # durable before the buyer is sent on: a restart must not reopen it
                await durable_put(table, partition, claims.nonce,
                                  links.redemption(claims, partition, now_ms()))
            except (KafkaError, OSError, TimeoutError) as exc:
                table.data.pop(claims.nonce, None)
                log.warning("card-key redemption not recorded: %s", type(exc).__name__)
                return _unavailable(self, "not_recorded")
            return self.text("", status=303, headers={
                "Location": links.page_url(claims.card_key_ref), **NO_STORE,
                "Referrer-Policy": "no-referrer"})

        return await on_owner(self, request, links.redemptions, claims.nonce, redeem)

    def _rejected(self, exc: cardkey.CardKeyLinkError) -> Response:
        r = links.rejection(exc)
        log.info("card-key link refused: %s", r.code)
        return self.json({"error": r.code, "message": str(exc)}, status=r.status,
                         headers=NO_STORE)


# -- template preview -------------------------------------------------------------

class UnknownMerchant(LookupError):
    pass


def _merchant(request: Request) -> MerchantConfig | None:
    """``?merchant=ID`` previews that merchant's overrides."""
    merchant_id = request.query.get("merchant")
    if not merchant_id:
        return None
    merchants = context.merchants()
    if merchant_id not in merchants:  # merchants[...] would answer with the default
        raise UnknownMerchant(merchant_id)
    return merchants[merchant_id]


@app.page("/templates")
class TemplateIndex(View):
    async def get(self, request: Request) -> Response:
        return self.html(preview.index_html(renderer()))


@app.page("/templates/{name}")
class TemplatePage(View):
    async def get(self, request: Request, name: str) -> Response:
        try:
            return self.html(preview.template_html(renderer(), name, _merchant(request)))
        except UnknownTemplate:
            return self.json({"error": "unknown_template"}, status=404)
        except UnknownMerchant:
            return self.json({"error": "unknown_merchant"}, status=404)


@app.page("/templates/{name}/{locale}.html")
class TemplateEmail(View):
    """One locale's HTML email as its own page, rendered from sample data."""

    async def get(self, request: Request, name: str, locale: str) -> Response:
        r = renderer()
        if name not in r.list_templates() or locale not in r.locales():
            return self.json({"error": "unknown_template"}, status=404)
        try:
            merchant = _merchant(request)
            variables = sample_variables(name, locale)
            if merchant is not None:
                variables["merchant_name"] = merchant.name
            out = r.render(name, locale, merchant, variables, parts=("html",))
        except UnknownMerchant:
            return self.json({"error": "unknown_merchant"}, status=404)
        except TemplateProblem as exc:
            return self.json({"error": "template_problem", "message": str(exc)}, status=500)
        # merchant overrides are not our code: no script, no same-origin access
        return self.html(out.html, headers={"Content-Security-Policy": "sandbox"})
