"""`ordercast` command line. Errors print as one line on stderr, exit code 1;
bad arguments get click's usage line, exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from schemas.exceptions import SchemaError

from .cli_dlq import dlq_cli
from .cli_templates import templates_cli
from .exceptions import OrdercastError

cli = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Order notifications and risk alerts from Kafka.")
stack_cli = typer.Typer(no_args_is_help=True, help="The local Kafka broker and AWS emulator.")
topics_cli = typer.Typer(no_args_is_help=True, help="The topic catalog.")
cli.add_typer(stack_cli, name="stack")
cli.add_typer(topics_cli, name="topics")
cli.add_typer(dlq_cli, name="dlq")
cli.add_typer(templates_cli, name="templates")


def _fail(message: str) -> None:
    typer.echo(f"ordercast: {message}", err=True)
    raise typer.Exit(1)


@stack_cli.command("up")
def stack_up() -> None:
    """Start Kafka and moto (idempotent), provision topics, verify senders."""
    from . import stack, topics
    from .aws import verify_senders

    stack.start_kafka()
    stack.start_moto()
    changes = topics.apply()
    created = sum(c.action == "created" for c in changes)
    senders = verify_senders(stack.moto_url())
    typer.echo(f"kafka {stack.status()['kafka']} at {stack.cfg.kafka().bootstrap}; "
               f"moto at {stack.moto_url()}; {created} topics created; "
               f"{len(senders)} sender identities verified")


@stack_cli.command("down")
def stack_down() -> None:
    """Stop everything `stack up` started."""
    from . import stack

    for name in ("moto", "kafka"):
        typer.echo(f"{name}: {'stopped' if stack.stop(name) else 'not running'}")


@stack_cli.command("status")
def stack_status() -> None:
    """Show whether each service is up; exit 1 if any is not."""
    from . import stack

    st = stack.status()
    for name, state in st.items():
        typer.echo(f"{name}: {state}")
    if any(not s.startswith("up") for s in st.values()):
        raise typer.Exit(1)


@topics_cli.command("apply")
def topics_apply() -> None:
    """Create or update every topic in the catalog."""
    from . import topics

    for change in topics.apply():
        if change.action != "unchanged":
            typer.echo(f"{change.action:<11} {change.topic} {change.detail}")
    typer.echo("topics in sync with the catalog")


@topics_cli.command("list")
def topics_list() -> None:
    """Print the catalog (the event contract)."""
    from .catalog import TOPICS

    for t in TOPICS:
        typer.echo(f"{t.name:<42} {t.partitions:>3}p {t.cleanup_policy:<8} {t.schema:<22} "
                   f"{t.carries}")


@cli.command()
def publish(
    source: str = typer.Argument("-", help="JSON Lines file, or - for stdin"),
    sample: int = typer.Option(0, "--sample", min=0, help="Publish N generated events instead"),
    seed: int = typer.Option(42, "--seed", help="Seed for --sample"),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers"),
) -> None:
    """Validate and publish order-lifecycle events."""
    from . import publish as pub
    from .sample import sample_events

    if sample:
        items = (pub.prepare(t, d) for t, d in sample_events(sample, seed))
        report = pub.publish(items, bootstrap)
    else:
        if source != "-" and not Path(source).is_file():
            _fail(f"no such file: {source}")
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
        with stream:
            parsed = pub.parse_lines(stream)
            report = pub.publish((item for _, item in parsed), bootstrap)
    for rej in report.rejected:
        typer.echo(f"line {rej.line}: {rej.reason}", err=True)
    for topic, n in sorted(report.by_topic.items()):
        typer.echo(f"{n:>6}  {topic}")
    typer.echo(f"published {report.published}, rejected {len(report.rejected)}")
    if report.rejected:
        raise typer.Exit(1)


@cli.command()
def demo(
    events: int = typer.Option(200, "--events", min=20, help="Sample events to publish"),
    timeout: float = typer.Option(120.0, "--timeout", min=1.0, help="Seconds to wait"),
) -> None:
    """Run the worker on sample traffic and show what was delivered."""
    from .demo import run

    run(events, timeout)


@cli.command()
def worker(
    loglevel: str = typer.Option("info", "--loglevel", "-l"),
    role: str = typer.Option(None, "--role",
                             help="all | notify | risk (default: ORDERCAST_ROLE, else all)"),
) -> None:
    """Run the stream-processing worker (Faust)."""
    import os

    from .worker import run

    if role is not None:
        if role not in ("all", "notify", "risk"):
            _fail(f"unknown role {role!r}: use all, notify or risk")
        os.environ["ORDERCAST_ROLE"] = role
    run(loglevel)


def main() -> None:
    try:
        cli()
    except (OrdercastError, SchemaError) as exc:
        typer.echo(f"ordercast: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
