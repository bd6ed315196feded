"""Start the Faust worker after checking what must hold before any message is taken."""

from __future__ import annotations

import sys


def run(loglevel: str = "info") -> None:
    from .app import app

    sys.argv = ["ordercast", "worker", "--loglevel", loglevel]
    app.main()
