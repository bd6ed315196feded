"""`ordercast dlq list|show|replay`: look at dead letters and put them back.

Errors print as one line on stderr: exit 2 for an argument that does not
parse, 1 for anything else."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import dlq

dlq_cli = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                      help="Dead letters: list, show and replay them.")

Channels = Annotated[list[str] | None, typer.Option(
    "--channel", "-c", help="email, sms, inapp, webhook or ingest; repeatable (default: all)")]
ErrorClasses = Annotated[list[str] | None, typer.Option(
    "--error-class", "-e", help="Only this error class; repeatable")]
Since = Annotated[str | None, typer.Option(
    help="Last failure at or after: ISO-8601 (UTC if no zone) or 30m, 2h, 1d ago")]
Until = Annotated[str | None, typer.Option(help="Last failure before; same forms as --since")]
Bootstrap = Annotated[str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"ordercast: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except dlq.DlqError as exc:
        raise _fail(str(exc), exc.exit_code) from None


def _interactive() -> bool:
    return sys.stdin.isatty()


def _console() -> Console:
    # Piped output keeps whole rows instead of wrapping at 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=250)


def _table(views: list[dlq.DeadLetterView]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in dlq.TABLE_COLUMNS:
        table.add_column(name, no_wrap=name != "error message",
                         justify="right" if name == "attempts" else "left")
    for v in views:
        table.add_row(*dlq.table_row(v))
    return table


@dlq_cli.command("list")
def list_cmd(channel: Channels = None, error_class: ErrorClasses = None,
             since: Since = None, until: Until = None,
             limit: Annotated[int, typer.Option(help="Show at most N, oldest first")] = (
                 dlq.LIST_LIMIT),
             bootstrap: Bootstrap = None) -> None:
    """List dead letters (error messages are masked and shortened)."""
    with _errors():
        filters = dlq.parse_filters(channel or (), error_class or (), since, until, limit)
        views = dlq.list_dead_letters(replace(filters, limit=None), bootstrap=bootstrap)
    if not views:
        typer.echo("no dead letters match")
        return
    console = _console()
    console.print(_table(views[:limit]))
    more = len(views) - limit
    console.print(f"{len(views)} dead letters match"
                  + (f"; {more} more not shown (raise --limit)" if more > 0 else ""))


@dlq_cli.command("show")
def show_cmd(target: Annotated[str, typer.Argument(
        metavar="TOPIC:PARTITION:OFFSET|NOTIFICATION_ID",
        help="Dead-letter coordinates as `dlq list` prints them, or a notification id")],
        bootstrap: Bootstrap = None) -> None:
    """Show one dead letter: every header, the record, a summary of the payload."""
    with _errors():
        views = dlq.find(target, bootstrap=bootstrap)
    for i, view in enumerate(views):
        if i:
            typer.echo("")
        lines = dlq.describe(view)
        width = max(len(label) for label, _ in lines)
        for label, text in lines:
            typer.echo(f"{label:<{width}}  {text}")


@dlq_cli.command("replay")
def replay_cmd(channel: Channels = None, error_class: ErrorClasses = None,
               since: Since = None, until: Until = None,
               limit: Annotated[int | None, typer.Option(
                   help="Replay at most N, oldest first")] = None,
               dry_run: Annotated[bool, typer.Option(
                   "--dry-run", help="Print what would be replayed; change nothing")] = False,
               yes: Annotated[bool, typer.Option(
                   "--yes", "-y", help="Do not ask for confirmation")] = False,
               bootstrap: Bootstrap = None) -> None:
    """Put dead letters back on their original topic, each one once."""
    with _errors():
        filters = dlq.parse_filters(channel or (), error_class or (), since, until, limit)
        if not (dry_run or yes or _interactive()):
            raise dlq.BadArgument("stdin is not a terminal: pass --yes to replay, "
                                  "or --dry-run to preview")
        plan = dlq.plan_replay(filters, bootstrap=bootstrap)
    console = _console()
    if plan.planned:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in ("dead letter", "error class", "notification id", "replay to"):
            table.add_column(name, no_wrap=True)
        for p in plan.planned:
            where = p.topic + (f"[{p.partition}]" if p.partition is not None else "")
            table.add_row(p.view.where, p.view.error_class, p.view.notification_id or "-", where)
        console.print(table)
    for s in plan.skipped:
        console.print(f"skip {s.view.where}: {s.reason}", highlight=False)
    n = len(plan.planned)
    if dry_run:
        typer.echo(f"dry run: {n} would be replayed, {len(plan.skipped)} skipped")
        return
    if not n:
        typer.echo(f"nothing to replay ({len(plan.skipped)} skipped)")
        return
    if not yes and not typer.confirm(f"Replay {n} dead letters?"):
        raise _fail("nothing replayed", 1)
    with _errors(), _progress() as bar:
        task = bar.add_task("replaying", total=n)
        report = dlq.execute(plan, bootstrap=bootstrap,
                             progress=lambda done, _total: bar.update(task, completed=done))
    for planned, error in report.failed:
        typer.echo(f"not replayed {planned.view.where}: {error}", err=True)
    for r in report.unrecorded:
        typer.echo(f"replayed {r.planned.view.where} but could not record it; a later replay "
                   "sends it again (delivery drops the duplicate)", err=True)
    typer.echo(f"replayed {len(report.replayed) + len(report.unrecorded)}, "
               f"failed {len(report.failed)}, skipped {len(report.skipped)}")
    if not report.ok:
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))
