"""Carry out the writes of a plan: batches sent concurrently, exactly once, journaled.

Rows go out in batches of ``batch_size``; a batch's requests run concurrently (at most
``concurrency`` at a time, under the client's rate cap), and the batch's outcomes are
committed to the journal before the next batch starts. Creates go through
``CwClient.create_time_entry`` (after a lost answer it looks the entry up by its
``mobileGuid`` before posting again); updates are a JSON Patch of the changed fields, sent
only after a check that the entry has not changed since it was planned.

A row that ConnectWise refuses (a closed ticket, a locked sheet, a billed entry) fails on
its own, with ConnectWise's code and message; the others go on. ``max_failures`` stops the
run after the batch in which that many rows have failed. Setting ``stop`` (Ctrl-C) lets
the requests in flight finish and be recorded, and sends nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from tqdm import tqdm

from cwbulk.client import CwClient, patch_ops
from cwbulk.conditions import in_chunks
from cwbulk.errors import (
    ApiError,
    AuthenticationFailed,
    ConnectionFailed,
    CwbulkError,
    PermissionDenied,
    WriteOutcomeUnknown,
)
from cwbulk.journal import Journal, RowRecord
from cwbulk.plan import PlanItem, same_instant

Outcome = Literal["created", "updated", "unchanged", "skipped", "invalid", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged", "skipped", "invalid", "failed")

DEFAULT_BATCH_SIZE = 100
DEFAULT_CONCURRENCY = 8
MAX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one source row."""

    sheet: str
    row: int
    outcome: Outcome
    entry_id: int | None = None
    error_code: str | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The outcome as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class ApplyResult:
    """The outcomes of the rows ``apply_plan`` was given, and why it stopped early if it did."""

    outcomes: tuple[RowOutcome, ...]
    interrupted: bool = False
    stopped: str | None = None

    def counts(self) -> dict[str, int]:
        """Rows per outcome."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in self.outcomes:
            counts[outcome.outcome] += 1
        return counts


def chunks(items: Sequence[PlanItem], size: int) -> Iterator[Sequence[PlanItem]]:
    """Consecutive slices of ``items``, ``size`` long (the last one shorter)."""
    size = max(1, min(size, MAX_BATCH_SIZE))
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def apply_plan(
    items: Sequence[PlanItem],
    *,
    client: CwClient,
    journal: Journal,
    run_id: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_failures: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    stop: asyncio.Event | None = None,
    notify: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Send the creates and updates of ``items``; one ``RowOutcome`` per item sent or not.

    ``overwrite`` sends updates even when the entry changed since the plan (and sends
    the ``conflict`` items as updates). ``stop`` is set on SIGINT (handled here while the
    batches run); rows not sent by then come back as ``skipped``.
    """
    stop = stop or asyncio.Event()
    gate = asyncio.Semaphore(max(1, concurrency))
    outcomes: list[RowOutcome] = []
    failed = 0
    stopped: str | None = None
    bar = tqdm(
        total=len(items),
        unit="row",
        desc="Importing",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )

    async def send(item: PlanItem) -> RowOutcome | None:
        nonlocal failed, stopped
        async with gate:
            if stop.is_set():
                return None
            outcome, fatal = await _send(client, item)
        if outcome.outcome == "failed":
            failed += 1
            bar.set_postfix(failed=failed, refresh=False)
        stopped = stopped or fatal
        bar.update(1)
        return outcome

    try:
        with sigint_sets(stop, notify):
            for batch in chunks(items, batch_size):
                if stop.is_set() or stopped:
                    break
                try:
                    checked = await _recheck(client, batch, overwrite)
                except CwbulkError as exc:
                    stopped = f"could not read the entries to update: {exc.message}"
                    break
                to_send = [item for item in batch if (item.sheet, item.row) not in checked]
                journal.mark_sent(run_id, [(i.sheet, i.row) for i in to_send])
                sent = await asyncio.gather(*(send(item) for item in to_send))
                finished = list(checked.values()) + [o for o in sent if o is not None]
                journal.record_outcomes(
                    run_id, [_record(item, o) for item, o in _pair(batch, finished)]
                )
                unsent = [(i.sheet, i.row) for i, o in zip(to_send, sent, strict=True) if not o]
                if unsent:
                    journal.unmark_sent(run_id, unsent)
                outcomes.extend(finished)
                bar.update(len(checked))
                if max_failures is not None and failed >= max_failures and not stopped:
                    stopped = _stop_reason(outcomes, failed, max_failures)
    finally:
        bar.close()

    handled = {(o.sheet, o.row) for o in outcomes}
    why = (
        "not sent: interrupted; run the same command again to continue"
        if stop.is_set()
        else f"not sent: the run stopped: {stopped}"
    )
    outcomes.extend(
        RowOutcome(i.sheet, i.row, "skipped", i.entry_id, "not_sent", why)
        for i in items
        if (i.sheet, i.row) not in handled
    )
    return ApplyResult(tuple(outcomes), interrupted=stop.is_set(), stopped=stopped)


async def _send(client: CwClient, item: PlanItem) -> tuple[RowOutcome, str | None]:
    """One create or update, and why the run must stop if the failure is not the row's.

    A refusal becomes a failed outcome, never an exception. Rejected credentials or
    permissions and an unreachable site would fail every row alike, so they also stop
    the run after the batch.
    """
    sheet, row = item.sheet, item.row
    try:
        if item.action == "create":
            created = await client.create_time_entry(dict(item.body or {}))
            return RowOutcome(sheet, row, "created", int(created["id"])), None
        ops = patch_ops({change.field: change.value for change in item.changes})
        await client.patch(f"time/entries/{item.entry_id}", ops)
        return RowOutcome(sheet, row, "updated", item.entry_id), None
    except WriteOutcomeUnknown as exc:
        message = (
            f"{exc.message} Import the file again: the entry is looked up by its "
            "mobileGuid first, so it is not duplicated."
        )
        return RowOutcome(sheet, row, "failed", None, "outcome_unknown", message), None
    except (AuthenticationFailed, PermissionDenied, ConnectionFailed) as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        outcome = RowOutcome(sheet, row, "failed", item.entry_id, code, exc.message)
        return outcome, f"{exc.message} — fix that and run the same command again"
    except ApiError as exc:
        code = exc.code or str(exc.status)
        return RowOutcome(sheet, row, "failed", item.entry_id, code, exc.message), None


async def _recheck(
    client: CwClient, batch: Sequence[PlanItem], overwrite: bool
) -> dict[tuple[str, int], RowOutcome]:
    """Updates whose entry changed in ConnectWise since the plan: skipped as conflicts.

    ConnectWise has no conditional write (no ETag, no If-Match), so this reads the
    entries' ``lastUpdated`` once per batch, right before the batch is sent.
    """
    updates = {i.entry_id: i for i in batch if i.action != "create" and i.entry_id is not None}
    if overwrite or not updates:
        return {}
    current: dict[int, str | None] = {}
    for condition in in_chunks("id", sorted(updates)):
        found = await client.get(
            "time/entries",
            params={"conditions": condition, "fields": "id,_info", "pageSize": 1000},
        )
        current.update({int(e["id"]): (e.get("_info") or {}).get("lastUpdated") for e in found})
    skipped = {}
    for entry_id, item in updates.items():
        if entry_id not in current:
            message = f"entry {entry_id} was deleted in ConnectWise after the plan was made"
            code = "deleted_since_plan"
        elif not same_instant(current[entry_id], item.last_updated):
            message = (
                f"entry {entry_id} changed in ConnectWise at {current[entry_id]}, after the "
                "plan was made; left alone — import again to see the new plan, or use "
                "--on-conflict overwrite"
            )
            code = "changed_since_plan"
        else:
            continue
        skipped[(item.sheet, item.row)] = RowOutcome(
            item.sheet, item.row, "skipped", entry_id, code, message
        )
    return skipped


def _pair(
    batch: Sequence[PlanItem], finished: Sequence[RowOutcome]
) -> Iterator[tuple[PlanItem, RowOutcome]]:
    by_row = {(o.sheet, o.row): o for o in finished}
    for item in batch:
        if (item.sheet, item.row) in by_row:
            yield item, by_row[(item.sheet, item.row)]


def _record(item: PlanItem, outcome: RowOutcome) -> RowRecord:
    return RowRecord(
        sheet=item.sheet,
        row=item.row,
        key=item.key,
        action=item.action,
        mobile_guid=item.mobile_guid,
        outcome=outcome.outcome,
        entry_id=outcome.entry_id,
        error_code=outcome.error_code,
        message=outcome.message or None,
    )


def _stop_reason(outcomes: Sequence[RowOutcome], failed: int, limit: int) -> str:
    reasons = Counter(
        (o.error_code, o.message) for o in outcomes if o.outcome == "failed"
    ).most_common(1)
    (code, message), count = reasons[0]
    return (
        f"{failed} rows failed (--max-failures {limit}); the most common "
        f"error ({count} rows): {code}: {message} — fix the cause and run the same command "
        "again: rows already written are skipped"
    )


@contextlib.contextmanager
def sigint_sets(stop: asyncio.Event, notify: Callable[[str], None] | None) -> Iterator[None]:
    """While the batches run, Ctrl-C sets ``stop`` instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        if not stop.is_set() and notify is not None:
            notify("Interrupted: finishing the requests in flight and recording them…")
        stop.set()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError, ValueError):
        # Not the main thread (or no signals here): Ctrl-C stays KeyboardInterrupt.
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
