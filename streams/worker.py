"""Start the Faust worker after checking what must hold before any message is taken."""

from __future__ import annotations

import sys

from .exceptions import ConfigError


def preflight() -> None:
    """Every template renders in every locale and the merchant file loads;
    otherwise refuse to start rather than fail at 3 a.m. on one message."""
    from pydantic import ValidationError

    from . import context
    from .outbox import renderer
    from .render import TemplateProblem

    try:
        merchants = context.merchants()
        renderer().check_all(merchants=[m for m in merchants.values() if m.template_dir])
    except TemplateProblem as exc:
        raise ConfigError(f"templates are broken, not starting:\n{exc}") from None
    except (ValidationError, ValueError, OSError) as exc:
        raise ConfigError(f"merchant configuration unusable: {exc}") from None


def run(loglevel: str = "info") -> None:
    preflight()
    from .app import app

    sys.argv = ["ordercast", "worker", "--loglevel", loglevel]
    app.main()
