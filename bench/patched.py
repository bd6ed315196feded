"""An ordercast worker with candidate speed-ups applied in-process, to measure
what a change to the worker would gain before anyone makes it.

    BENCH_PATCHES=codec,babel,locales python -m bench.patched

Each patch mirrors one recommended code change:

- ``codec``: keep fastavro's parse hint on the registry's schemas; parsed
  with ``_write_hint=False`` they are parsed again on every read and write.
- ``babel``: cache ``babel.Locale.parse`` in ``streams.routing.variables``
  (it reloads locale data on every amount formatted).
- ``locales``: cache ``Renderer.locales()``, which lists the template
  directory on disk for every message rendered.
- ``linger``: ``producer_linger=0.005`` on the Faust app (streams/app.py), so
  the dozen records one order produces share produce requests.
- ``fetchwait``: the consumer's ``fetch_max_wait_ms`` at 20 instead of the
  1500 Faust's aiokafka driver hard-codes; a partition left out of the fetch in
  flight (it still had buffered records) waits for that fetch to come back.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import fastavro


def patch_codec() -> None:
    from schemas.codec import REGISTRY

    hinted: dict[int, dict] = {}

    def hint(schema: dict) -> dict:
        if id(schema) not in hinted:
            hinted[id(schema)] = fastavro.parse_schema(schema)
        return hinted[id(schema)]

    REGISTRY._current = {k: hint(v) for k, v in REGISTRY._current.items()}
    REGISTRY._writers = {fp: (name, hint(s)) for fp, (name, s) in REGISTRY._writers.items()}


def patch_babel() -> None:
    from streams.routing import variables

    variables._babel_locale = functools.lru_cache(maxsize=64)(variables._babel_locale)


def patch_locales() -> None:
    from streams.render import Renderer

    listing = Renderer.locales

    def locales(self) -> list[str]:
        cached = self.__dict__.get("_bench_locales")
        if cached is None:
            cached = self.__dict__["_bench_locales"] = listing(self)
        return cached

    Renderer.locales = locales


def patch_linger() -> None:
    from streams.app import app

    app.conf.producer_linger = 0.005


def patch_fetchwait() -> None:
    import aiokafka

    original = aiokafka.AIOKafkaConsumer.__init__

    def init(self, *topics, **kwargs):
        kwargs["fetch_max_wait_ms"] = 20
        original(self, *topics, **kwargs)

    aiokafka.AIOKafkaConsumer.__init__ = init


PATCHES: dict[str, Callable[[], None]] = {
    "codec": patch_codec, "babel": patch_babel, "locales": patch_locales,
    "linger": patch_linger, "fetchwait": patch_fetchwait,
}


def apply(names: list[str]) -> None:
    for name in names:
        PATCHES[name]()


def main() -> None:
    apply([n for n in os.environ.get("BENCH_PATCHES", "").split(",") if n])
    from streams.cli import main as cli

    sys.argv = ["ordercast", "worker", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
