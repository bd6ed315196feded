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

from channels.pii import scrub
from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import deadletter, dlq, settings

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


# -- what the commands print (pure) ---------------------------------------------

def mask_key(key: bytes | None) -> str:
    """Keys are order ids (or buyer ids), which stay out of terminals and tickets."""
    if key is None:
        return "-"
    text = key.decode(errors="replace")
    return (text[:4] + "…" if len(text) > 4 else text) + f" ({len(key)} bytes)"


def truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def summarise_payload(payload: bytes | None) -> str:
    """What the original message was, without its contents (no addresses, no variables)."""
    if payload is None:
        return "(unknown: the dead letter itself does not decode)"
    if not payload:
        return "(empty)"
    try:
        rec = REGISTRY.decode(payload)
    except DecodeError as exc:
        return (f"undecodable ({type(exc).__name__}), {len(payload)} bytes: "
                f"{payload[:16].hex()}{'…' if len(payload) > 16 else ''}")
    if rec.schema == "notification_request":
        return (f"notification_request id={rec['notification_id']} "
                f"template={rec['template']} channel={rec['channel']}")
    event_id = (rec.get("envelope") or {}).get("event_id")
    return rec.schema + (f" event_id={event_id}" if event_id else "")


MESSAGE_MIN, MESSAGE_MAX = 20, 48  # error message column width in `dlq list`
TABLE_COLUMNS = ("channel", "dead letter", "original", "error class", "error message",
                 "attempts", "last failure", "notification id", "replayed")


def short(where: str, prefix: str) -> str:
    """Coordinates without the topic prefix (the table's caption names it)."""
    return where[len(prefix):] if prefix and where.startswith(prefix) else where


def table_row(view: dlq.DeadLetterView, prefix: str = "") -> list[str]:
    """One `dlq list` row (times UTC); the message is already masked, only shortened.
    The last cell, when it was replayed, shows only if some row was."""
    return [view.channel, short(view.where, prefix), short(view.origin, prefix),
            view.error_class,
            truncate(view.error_message, MESSAGE_MAX), str(view.attempts),
            dlq.format_time(view.last_failure_at), view.notification_id or "-",
            dlq.format_time(view.replayed.replayed_at) if view.replayed else "-"]


_PLAIN_HEADERS = {deadletter.PREFIX + k for k in (
    "original-topic", "original-partition", "original-offset", "attempts", "error-class",
    "first-failure-at", "last-failure-at", "channel", "notification-id")}


def describe(view: dlq.DeadLetterView) -> list[tuple[str, str]]:
    """Everything `dlq show` prints, as (label, text) lines, PII masked."""
    lines = [("dead letter", view.where), ("channel", view.channel)]
    for name, raw in view.headers:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        if name not in _PLAIN_HEADERS:  # free text may quote a recipient
            text = truncate(scrub(text), 300)
        lines.append((f"header {name}", text))
    lines += [
        ("original", view.origin),
        ("original key", mask_key(view.original_key)),
        ("error class", view.error_class),
        ("error message", view.error_message),
        ("attempts", str(view.attempts)),
        ("first failure (UTC)", dlq.format_time(view.first_failure_at)),
        ("last failure (UTC)", dlq.format_time(view.last_failure_at)),
        ("notification id", view.notification_id or "-"),
        ("payload", summarise_payload(view.payload)),
    ]
    m = view.replayed
    lines.append(("replayed", "no" if m is None else
                  f"{dlq.format_time(m.replayed_at)} UTC to {m.target_topic}[{m.target_partition}]"
                  f"@{m.target_offset} by {m.replayed_by}"))
    return lines


# -- commands --------------------------------------------------------------------

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


def _caption(prefix: str) -> str:
    return "times in UTC" + (f"; topics under the prefix {prefix!r}" if prefix else "")


def _table(columns: tuple[str, ...], rows: list[list[str]], prefix: str,
           width: int) -> Table:
    """Only the error message wraps while the other cells fit whole (coordinates
    and ids are copied into `dlq show`); on a narrower terminal every cell folds
    rather than being cut."""
    widths = [max(len(x) for x in col) for col in zip(columns, *rows, strict=True)]
    fixed = sum(w for c, w in zip(columns, widths, strict=True) if c != "error message")
    fold_all = fixed + 2 * len(columns) + MESSAGE_MIN > width
    table = Table(box=None, header_style="bold", pad_edge=False, caption=_caption(prefix),
                  caption_justify="left")
    for name in columns:
        is_message = name == "error message"
        table.add_column(name, overflow="fold", no_wrap=not (is_message or fold_all),
                         min_width=MESSAGE_MIN if is_message else None,
                         justify="right" if name == "attempts" else "left")
    for row in rows:
        table.add_row(*row)
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
    prefix = settings.kafka().topic_prefix
    shown = views[:limit]
    columns = TABLE_COLUMNS if any(v.replayed for v in shown) else TABLE_COLUMNS[:-1]
    rows = [table_row(v, prefix)[:len(columns)] for v in shown]
    console.print(_table(columns, rows, prefix, console.width))
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
        lines = describe(view)
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
    console, prefix = _console(), settings.kafka().topic_prefix
    if plan.planned:
        rows = [[short(p.view.where, prefix), p.view.error_class, p.view.notification_id or "-",
                 short(p.topic, prefix) + (f"[{p.partition}]" if p.partition is not None else "")]
                for p in plan.planned]
        console.print(_table(("dead letter", "error class", "notification id", "replay to"),
                             rows, prefix, console.width))
    for s in plan.skipped:
        console.print(f"skip {short(s.view.where, prefix)}: {s.reason}", highlight=False)
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
