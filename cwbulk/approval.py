"""The approval workflow in bulk: time sheets submitted, approved, rejected or reversed, and
time entries rejected, many at once, each exactly once.

ConnectWise has no bulk endpoint for this: every sheet is one ``POST
/time/sheets/{id}/submit|approve|reject|reverse`` and every entry one ``POST
/time/entries/{id}/reject``. They run concurrently (bounded), and none is sent blindly
twice: these POSTs are not idempotent (approving an ``ApprovedByTierOne`` sheet again makes
it ``ApprovedByTierTwo``), so when an answer is lost the record's status is read again and
the request is sent once more only if the status shows it did not take.

Selecting is separate from acting: :func:`select` turns filters or an ids file into
:class:`Target` records (id, status, and the columns people recognise them by); each target
is then planned (sent, or skipped with the reason: already in the target state, or not in a
state the action applies to) before anything is written. Every target ends in exactly one
:class:`ActionOutcome`: ``done``, ``skipped`` or ``failed``, which the results file lists.

:func:`run_sheet_action` and :func:`reject_entries` are the calls the commands make; like
``import_file`` they never print, and take ``confirm`` and ``notify`` callbacks.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from tqdm import tqdm

from cwbulk.apply import DEFAULT_CONCURRENCY, sigint_sets
from cwbulk.client import AUTO_RATE, CwClient
from cwbulk.conditions import and_, cond, in_chunks
from cwbulk.connect import Connection
from cwbulk.errors import (
    ApiError,
    ConnectionFailed,
    InputError,
    NotFound,
    UsageError,
    WriteOutcomeUnknown,
)
from cwbulk.export import ExportFilters, build_conditions, lookup_ids
from cwbulk.fields import load_reference
from cwbulk.io import WORKBOOK_EXTENSIONS, read_table, write_table
from cwbulk.resolve import Resolver
from cwbulk.validate import resolve_zone

Kind = Literal["sheets", "entries"]
SheetAction = Literal["submit", "approve", "reject", "reverse"]
Outcome = Literal["done", "skipped", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("done", "skipped", "failed")
SHEET_ACTIONS: tuple[SheetAction, ...] = ("submit", "approve", "reject", "reverse")

#: Every status a time sheet or entry can have (the TimeEntry status enum), in workflow order.
STATUSES: tuple[str, ...] = load_reference().fields["status"].enum
OPEN = frozenset({"Open", "ErrorsCorrected"})
REJECTED = frozenset({"Rejected", "RejectBySecondTier"})
SUBMITTED = frozenset({"PendingApproval"})
APPROVED = frozenset({"ApprovedByTierOne", "ApprovedByTierTwo"})
BILLING = frozenset({"ReadyToBill", "Billed", "WrittenOff", "BilledAgreement"})
BILLED = frozenset({"Billed", "WrittenOff", "BilledAgreement"})


#: The columns that show which record a result row is about, after its id.
DETAIL_COLUMNS: dict[str, tuple[str, ...]] = {
    "sheets": ("member", "period", "hours"),
    "entries": ("member", "date", "hours", "chargeTo", "timeSheet"),
}
RESULT_TAIL = ("statusBefore", "statusAfter", "outcome", "reason", "error")
_PAST = {"submit": "submitted", "approve": "approved", "reject": "rejected", "reverse": "reversed"}
RESOURCE = {"sheets": "time/sheets", "entries": "time/entries"}
_NOUN = {"sheets": ("time sheet", "time sheets"), "entries": ("time entry", "time entries")}


# --- what to act on --------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which sheets or entries: filters (combined with ``and``) or an ids file.

    ``statuses`` applies to sheets; ``tickets``, ``conditions`` and ``tz`` (the zone whose
    days ``date_from``/``date_to`` mean) to entries. Sheets are picked when their week
    overlaps ``date_from``–``date_to``; entries when they start on one of those days.
    """

    members: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    statuses: tuple[str, ...] = ()
    tickets: tuple[int, ...] = ()
    conditions: str | None = None
    ids_file: Path | None = None
    tz: str | None = None

    def check(self, *, need_filter: bool = True) -> None:
        """``UsageError`` when the options contradict each other or select everything."""
        filters = self.members or self.date_from or self.date_to or self.statuses
        filters = filters or self.tickets or (self.conditions or "").strip()
        if self.ids_file is not None and filters:
            raise UsageError(
                "--ids can't be combined with --member, --from, --to, --status, --ticket "
                "or --conditions.",
                hint="Put exactly the ids to act on in the file, or use the filters alone.",
            )
        if need_filter and self.ids_file is None and not filters:
            raise UsageError(
                "Say which records to act on: give --ids FILE or at least one filter "
                "(--member, --from, --to, --status, --ticket, --conditions).",
                hint="To act on every sheet of a period, give --from and --to.",
            )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError(
                f"--from {self.date_from} is after --to {self.date_to}.",
                hint="Swap them: --from is the first day, --to the last.",
            )
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown:
            raise UsageError(
                f"--status {unknown[0]!r} is not a time sheet status.",
                hint=f"Use one of {', '.join(STATUSES)}.",
            )


@dataclass(frozen=True)
class Target:
    """One time sheet or entry to act on: its id, its status when read, and the columns
    (member, period, hours…) a person recognises it by."""

    id: int
    status: str
    details: Mapping[str, str] = field(default_factory=dict)


SHEET_FIELDS = ("id", "member", "year", "period", "dateStart", "dateEnd", "status", "hours")
ENTRY_FIELDS = (
    "id",
    "member",
    "timeStart",
    "actualHours",
    "chargeToType",
    "chargeToId",
    "company",
    "status",
    "timeSheet",
)


def sheet_target(sheet: Mapping[str, Any]) -> Target:
    """A time sheet record as a target: member, period and hours shown."""
    start, end = _day(sheet.get("dateStart")), _day(sheet.get("dateEnd"))
    return Target(
        id=int(sheet["id"]),
        status=str(sheet.get("status") or "Open"),
        details={
            "member": _member(sheet),
            "period": f"{start} to {end}" if start or end else "",
            "hours": _number(sheet.get("hours")),
        },
    )


def entry_target(entry: Mapping[str, Any], zone: ZoneInfo) -> Target:
    """A time entry record as a target: member, local date, hours and what it's charged to."""
    start = entry.get("timeStart")
    day = ""
    if isinstance(start, str) and start:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
        day = moment.astimezone(zone).date().isoformat()
    charge = " ".join(str(entry.get(k) or "") for k in ("chargeToType", "chargeToId")).strip()
    if entry.get("chargeToType") in (None, "Company"):
        company = entry.get("company") or {}
        charge = f"Company {company.get('identifier') or ''}".strip()
    sheet = entry.get("timeSheet") or {}
    return Target(
        id=int(entry["id"]),
        status=str(entry.get("status") or "Open"),
        details={
            "member": _member(entry),
            "date": day,
            "hours": _number(entry.get("actualHours")),
            "chargeTo": charge,
            "timeSheet": str(sheet.get("id") or ""),
        },
    )


def _member(record: Mapping[str, Any]) -> str:
    member = record.get("member") or {}
    return str(member.get("identifier") or member.get("name") or member.get("id") or "")


def _day(text: object) -> str:
    return str(text)[:10] if text else ""


def _number(value: object) -> str:
    return "" if value is None else f"{float(value):g}"  # type: ignore[arg-type]


def read_ids(path: Path) -> list[int]:
    """The ids in the ``id`` column of a CSV/XLSX file, in file order, each once.

    ``InputError`` names the file, row and value of anything that is not an id.
    """
    sheet = read_table(path)[0]
    frame = sheet.frame
    columns = {str(c).strip().lower(): c for c in frame.columns}
    if "id" not in columns:
        found = ", ".join(str(c) for c in frame.columns) or "none"
        raise InputError(
            f"{path.name} has no 'id' column (columns: {found}).",
            hint="Put the time sheet or entry ids in a column headed id "
            "(`cwbulk sheets list -o FILE` writes one).",
        )
    ids: list[int] = []
    bad: list[str] = []
    for row, value in frame[columns["id"]].items():
        text = str(value).strip()
        if not text:
            continue
        number = text[:-2] if text.endswith(".0") else text
        if number.isdigit() and 0 < int(number) < 2**31:
            ids.append(int(number))
        else:
            bad.append(f"row {row}: {text!r}")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise InputError(
            f"{path.name}, column id: not an id in {'; '.join(bad[:3])}{more}.",
            hint="Each id is a whole number, as ConnectWise shows it; fix or delete those rows.",
        )
    if not ids:
        raise InputError(f"{path.name} lists no ids.", hint="Put one id per row in the id column.")
    return list(dict.fromkeys(ids))


async def _sheet_conditions(client: CwClient, selection: Selection) -> str | None:
    parts = [
        cond("dateStart", "<=", selection.date_to) if selection.date_to else "",
        cond("dateEnd", ">=", selection.date_from) if selection.date_from else "",
        cond("status", "in", selection.statuses) if selection.statuses else "",
    ]
    if selection.members:
        resolver = Resolver(client, allow_inactive=True)
        ids = await lookup_ids(resolver, "members", selection.members, "--member")
        parts.append(cond("member/id", "in", ids))
    return and_(*parts) or None


async def _entry_conditions(client: CwClient, selection: Selection) -> str | None:
    filters = ExportFilters(
        date_from=selection.date_from,
        date_to=selection.date_to,
        members=selection.members,
        tickets=selection.tickets,
        conditions=selection.conditions,
    )
    return await build_conditions(Resolver(client, allow_inactive=True), filters, _zone(selection))


def _zone(selection: Selection) -> ZoneInfo:
    return resolve_zone(selection.tz)[0]


async def select(client: CwClient, kind: Kind, selection: Selection) -> list[Target]:
    """The sheets or entries ``selection`` names, read from ConnectWise, in id order.

    With an ids file, ids that ConnectWise doesn't know come back as targets with an empty
    status (they end as ``failed``: not found).
    """
    path = RESOURCE[kind]
    fields = SHEET_FIELDS if kind == "sheets" else ENTRY_FIELDS
    ids: list[int] = []
    if selection.ids_file is not None:
        ids = read_ids(selection.ids_file)
        conditions: list[str | None] = list(in_chunks("id", ids))
    elif kind == "sheets":
        conditions = [await _sheet_conditions(client, selection)]
    else:
        conditions = [await _entry_conditions(client, selection)]
    pages = await asyncio.gather(
        *(client.list_items(path, conditions=c, fields=fields) for c in conditions)
    )
    records = {int(r["id"]): r for page in pages for r in page}
    zone = _zone(selection) if kind == "entries" else ZoneInfo("UTC")
    make = sheet_target if kind == "sheets" else (lambda r: entry_target(r, zone))
    targets = {i: make(r) for i, r in records.items()}
    if ids:
        empty = dict.fromkeys(DETAIL_COLUMNS[kind], "")
        return [targets.get(i) or Target(i, "", empty) for i in ids]
    return [targets[i] for i in sorted(targets)]


async def fetch_statuses(client: CwClient, kind: Kind, ids: Iterable[int]) -> dict[int, str]:
    """The current status of each record (absent: not found), read in a few requests."""
    path = RESOURCE[kind]
    chunks = in_chunks("id", sorted(set(ids)))
    pages = await asyncio.gather(
        *(client.list_items(path, conditions=c, fields=("id", "status")) for c in chunks)
    )
    return {int(r["id"]): str(r.get("status") or "Open") for page in pages for r in page}


# --- what an action does ---------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """One action on one kind of record: where it is posted, its body, the statuses it
    applies to, the statuses it leaves a record in, and why others are skipped."""

    kind: Kind
    name: str
    applies: frozenset[str]
    results: frozenset[str]
    skip_reasons: Mapping[str, str]
    body: Mapping[str, Any] | None = None

    @property
    def resource(self) -> str:
        """The collection the records live in."""
        return RESOURCE[self.kind]

    def path(self, record_id: int) -> str:
        """Where the action on ``record_id`` is posted."""
        return f"{self.resource}/{record_id}/{self.name}"

    def request_body(self, record_id: int) -> dict[str, Any] | None:
        """The JSON body for ``record_id`` (None: the endpoint takes none)."""
        return None if self.body is None else {"id": record_id, **self.body}

    def skip_reason(self, status: str) -> str | None:
        """Why a record in ``status`` is skipped, or None when the action applies."""
        if status in self.applies:
            return None
        return self.skip_reasons.get(status) or (
            f"{status}: the {_NOUN[self.kind][0]} can't be {_PAST.get(self.name, self.name)} "
            f"from this status (only from {', '.join(sorted(self.applies))})"
        )


def _reasons(groups: Iterable[tuple[Iterable[str], str]]) -> dict[str, str]:
    return {status: f"{status}: {why}" for statuses, why in groups for status in statuses}


def sheet_action(action: str, *, tier: int = 1) -> ActionSpec:
    """The spec of ``submit``, ``approve`` (tier 1 or 2), ``reject`` or ``reverse`` for sheets.

    Mirrors ConnectWise's cycle: Open → PendingApproval → ApprovedByTierOne →
    ApprovedByTierTwo → ReadyToBill → Billed; reject sends submitted or approved sheets
    back (Rejected, RejectBySecondTier), reverse reopens them.
    """
    if action not in SHEET_ACTIONS:
        raise UsageError(f"Unknown time sheet action {action!r}: use {', '.join(SHEET_ACTIONS)}.")
    if tier not in (1, 2):
        raise UsageError(f"--tier {tier}: use 1 or 2.")
    project = {"PendingProjectApproval": "PendingProjectApproval: waiting for project approval"}
    billing = "past approval, in billing: nothing can be {} any more"
    if action == "submit":
        return ActionSpec(
            "sheets",
            "submit",
            applies=OPEN | REJECTED,
            results=SUBMITTED,
            skip_reasons={
                **_reasons(
                    [
                        (SUBMITTED, "already submitted"),
                        (APPROVED, "already submitted and approved"),
                        (BILLING, billing.format("submitted")),
                    ]
                ),
                **project,
            },
        )
    if action == "approve":
        applies = SUBMITTED | {"ApprovedByTierOne"} if tier == 2 else SUBMITTED
        target = "ApprovedByTierTwo" if tier == 2 else "ApprovedByTierOne"
        return ActionSpec(
            "sheets",
            "approve",
            applies=frozenset(applies),
            results=frozenset({target}),
            skip_reasons={
                **_reasons(
                    [
                        (OPEN, "it must be submitted first (cwbulk sheets submit)"),
                        (REJECTED, "it was rejected: it must be corrected and submitted again"),
                        ({"ApprovedByTierTwo"}, "already approved"),
                        (
                            {"ApprovedByTierOne"} - applies,
                            "already approved (--tier 2 approves it for the second tier)",
                        ),
                        (BILLING, billing.format("approved")),
                    ]
                ),
                **project,
            },
            body={"approvalType": "Tier2Update" if tier == 2 else "Tier1Update"},
        )
    submitted_or_approved = SUBMITTED | APPROVED
    if action == "reject":
        return ActionSpec(
            "sheets",
            "reject",
            applies=frozenset(submitted_or_approved),
            results=REJECTED,
            skip_reasons={
                **_reasons(
                    [
                        (REJECTED, "already rejected"),
                        (OPEN, "not submitted: there is nothing to reject"),
                        (BILLING, billing.format("rejected")),
                    ]
                ),
                **project,
            },
        )
    return ActionSpec(
        "sheets",
        "reverse",
        applies=frozenset(submitted_or_approved),
        results=frozenset({"Open"}),
        skip_reasons={
            **_reasons(
                [
                    ({"Open"}, "already open"),
                    (
                        REJECTED | {"ErrorsCorrected"},
                        "not submitted or approved: there is nothing to reverse",
                    ),
                    (BILLING, billing.format("reversed")),
                ]
            ),
            **project,
        },
    )


def entry_reject(comment: str) -> ActionSpec:
    """The spec of rejecting single time entries with ``comment`` (billed ones are refused)."""
    if not comment.strip():
        raise UsageError(
            "--comment is empty.", hint="Say why the time is rejected; the member sees it."
        )
    return ActionSpec(
        "entries",
        "reject",
        applies=frozenset(SUBMITTED | {"PendingProjectApproval"} | APPROVED | {"ReadyToBill"}),
        results=REJECTED,
        skip_reasons=_reasons(
            [
                (REJECTED, "already rejected"),
                (OPEN, "not submitted: only submitted or approved time can be rejected"),
                (BILLED, "refused: billed time can't be rejected"),
            ]
        ),
        body={"approvalType": "Tier1Update", "comment": comment.strip()},
    )


# --- running it ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A target as planned: sent, or skipped with the reason (or failed: not found)."""

    target: Target
    send: bool
    reason: str = ""

    def to_dict(self, action: str) -> dict[str, Any]:
        """The step as a plain dict (for ``--dry-run --json``)."""
        return {
            "id": self.target.id,
            **self.target.details,
            "status": self.target.status,
            "action": action if self.send else ("fail" if not self.target.status else "skip"),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ActionOutcome:
    """What happened to one target; ``status_after`` is read back from ConnectWise."""

    target: Target
    outcome: Outcome
    status_after: str
    reason: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """One row of the results file."""
        return {
            "id": self.target.id,
            **self.target.details,
            "statusBefore": self.target.status,
            "statusAfter": self.status_after,
            "outcome": self.outcome,
            "reason": self.reason,
            "error": self.error,
        }


def plan_steps(targets: Sequence[Target], spec: ActionSpec) -> list[Step]:
    """Each target sent or skipped (with why); unknown ids are marked not found."""
    steps = []
    for target in targets:
        if not target.status:
            noun = _NOUN[spec.kind][0]
            steps.append(Step(target, False, f"no such {noun} in ConnectWise"))
            continue
        reason = spec.skip_reason(target.status)
        steps.append(Step(target, reason is None, reason or ""))
    return steps


@dataclass(frozen=True)
class ActionRun:
    """What a bulk action planned and did; ``outcomes`` is empty for a dry run."""

    kind: Kind
    action: str
    steps: tuple[Step, ...]
    site: str = ""
    dry_run: bool = False
    outcomes: tuple[ActionOutcome, ...] = ()
    results_path: Path | None = None
    declined: bool = False
    interrupted: bool = False
    notes: tuple[str, ...] = ()

    @property
    def to_send(self) -> int:
        """How many targets the plan sends."""
        return sum(step.send for step in self.steps)

    def counts(self) -> dict[str, int]:
        """Targets per outcome (every outcome present; a dry run counts the plan)."""
        if self.dry_run or not self.outcomes:
            counts = {"send": self.to_send, "skip": 0, "fail": 0}
            for step in self.steps:
                if not step.send:
                    counts["skip" if step.target.status else "fail"] += 1
            return counts
        counts = dict.fromkeys(OUTCOMES, 0)
        counts.update(Counter(o.outcome for o in self.outcomes))
        return counts

    @property
    def exit_code(self) -> int:
        """130 interrupted; 1 when a target failed or the user declined; else 0."""
        if self.interrupted:
            return 130
        if self.declined:
            return 1
        if self.dry_run:
            return 1 if self.counts()["fail"] else 0
        return 1 if self.counts()["failed"] else 0

    def frame(self) -> pd.DataFrame:
        """One row per target: id, its details, statuses before and after, outcome, why."""
        rows = [o.to_dict() for o in self.outcomes]
        columns = ["id", *DETAIL_COLUMNS[self.kind], *RESULT_TAIL]
        return pd.DataFrame(rows, columns=columns).fillna("")

    def reasons(self, *, top: int = 5) -> list[tuple[str, str, int]]:
        """The most common (outcome, reason or error) pairs of skipped and failed targets."""
        if self.outcomes:
            pairs = Counter(
                (o.outcome, o.error or o.reason) for o in self.outcomes if o.outcome != "done"
            )
        else:
            pairs = Counter(
                ("skipped" if s.target.status else "failed", s.reason)
                for s in self.steps
                if not s.send
            )
        return [(outcome, why, n) for (outcome, why), n in pairs.most_common(top)]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object."""
        data: dict[str, Any] = {
            "command": f"sheets {self.action}" if self.kind == "sheets" else "reject",
            "site": self.site,
            "dryRun": self.dry_run,
            "counts": self.counts(),
            "results": str(self.results_path) if self.results_path else None,
            "declined": self.declined,
            "interrupted": self.interrupted,
            "notes": list(self.notes),
        }
        if self.dry_run:
            data["items"] = [s.to_dict(self.action) for s in self.steps]
        else:
            data["items"] = [o.to_dict() for o in self.outcomes]
        return data


async def act_once(
    client: CwClient, step: Step, spec: ActionSpec, *, max_sends: int | None = None
) -> ActionOutcome:
    """Carry out one planned step exactly once, and say how it went (never raises ApiError).

    After a POST whose answer is lost the record's status is read again: moved to one of
    the action's result statuses → done; unchanged → sent again (at most ``max_sends``
    POSTs in all; default: the client's ``retry.max_attempts``); anything else → failed
    (someone else changed it meanwhile).
    """
    max_sends = max_sends or client.retry.max_attempts
    target = step.target
    if not step.send:
        outcome: Outcome = "failed" if not target.status else "skipped"
        if outcome == "failed":
            return ActionOutcome(target, outcome, "", error=step.reason)
        return ActionOutcome(target, outcome, target.status, reason=step.reason)
    noun = _NOUN[spec.kind][0]
    lost = ""
    rng = random.Random(target.id)
    for sent in range(1, max_sends + 1):
        try:
            await client.post(spec.path(target.id), spec.request_body(target.id))
            return ActionOutcome(target, "done", "")
        except WriteOutcomeUnknown as exc:
            lost = exc.message
        except ApiError as exc:
            code = f"{exc.code}: " if exc.code else ""
            return ActionOutcome(target, "failed", "", error=f"{code}{exc.message}")
        except ConnectionFailed as exc:
            return ActionOutcome(target, "failed", "", error=exc.message)
        try:
            now = await _status_now(client, spec.resource, target.id)
        except (ApiError, ConnectionFailed) as exc:
            return ActionOutcome(
                target,
                "failed",
                "",
                error=f"the answer was lost ({lost}) and the {noun} could not be read "
                f"again ({exc.message}); run the same command again: records already "
                f"{_PAST[spec.name]} are skipped",
            )
        if now == target.status:
            if sent < max_sends:
                await asyncio.sleep(client.retry.backoff(sent, rng))
            continue
        if now in spec.results:
            return ActionOutcome(target, "done", now)
        return ActionOutcome(
            target,
            "failed",
            now or "",
            error=f"the {noun} is now {now or 'gone'}: it was changed by someone else meanwhile",
        )
    return ActionOutcome(
        target,
        "failed",
        target.status,
        error=f"ConnectWise failed {max_sends} times ({lost}) and the {noun} is still "
        f"{target.status}; run the same command again later",
    )


async def _status_now(client: CwClient, resource: str, record_id: int) -> str | None:
    try:
        record = await client.get(f"{resource}/{record_id}", params={"fields": "id,status"})
    except NotFound:
        return None
    return str(record.get("status") or "Open")


async def run_steps(
    client: CwClient,
    steps: Sequence[Step],
    spec: ActionSpec,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = False,
    stop: asyncio.Event | None = None,
    max_sends: int | None = None,
) -> tuple[ActionOutcome, ...]:
    """Carry out every step, at most ``concurrency`` at a time; statuses read back after.

    Steps not started when ``stop`` is set come back skipped ("not sent: interrupted").
    """
    stop = stop or asyncio.Event()
    gate = asyncio.Semaphore(max(1, concurrency))
    noun = _NOUN[spec.kind][1]
    bar = tqdm(
        total=sum(s.send for s in steps),
        unit="sheet" if spec.kind == "sheets" else "entry",
        desc=f"{spec.name.capitalize()} {noun}",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    failed = 0

    async def one(step: Step) -> ActionOutcome:
        nonlocal failed
        if not step.send:
            return await act_once(client, step, spec)
        async with gate:
            if stop.is_set():
                return ActionOutcome(
                    step.target,
                    "skipped",
                    step.target.status,
                    reason="not sent: interrupted; run the same command again to continue",
                )
            outcome = await act_once(client, step, spec, max_sends=max_sends)
        if outcome.outcome == "failed":
            failed += 1
            bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)
        return outcome

    try:
        outcomes = await asyncio.gather(*(one(step) for step in steps))
    finally:
        bar.close()
    touched = [o.target.id for o in outcomes if o.outcome != "skipped" and o.target.status]
    try:
        now = await fetch_statuses(client, spec.kind, touched) if touched else {}
    except (ApiError, ConnectionFailed):
        now = {}
    return tuple(
        replace(o, status_after=now.get(o.target.id, o.status_after))
        if o.outcome != "skipped" and o.target.status
        else o
        for o in outcomes
    )


# --- the calls the commands make -------------------------------------------------------


@dataclass(frozen=True)
class ActionOptions:
    """How to run a bulk action, besides what to act on."""

    dry_run: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    max_rate: float | str | None = AUTO_RATE
    results: Path | None = None

    def check(self) -> None:
        """``UsageError`` for option values that make no sense."""
        if self.concurrency < 1:
            raise UsageError(f"--concurrency {self.concurrency}: give at least 1.")
        if isinstance(self.max_rate, float | int) and self.max_rate <= 0:
            raise UsageError(f"--max-rate {self.max_rate:g}: give a positive rate (requests/s).")


Confirm = Callable[["ActionRun"], bool]
Notify = Callable[[str], None]


def default_results_path(kind: Kind, action: str, ids_file: Path | None) -> Path:
    """``<ids file stem>.<action>-results.<csv|xlsx>`` beside the ids file, else
    ``<kind>-<action>-<timestamp>.csv`` in the current folder."""
    if ids_file is not None:
        suffix = ".xlsx" if ids_file.suffix.lower() in WORKBOOK_EXTENSIONS else ".csv"
        return ids_file.with_name(f"{ids_file.stem}.{action}-results{suffix}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(f"{kind}-{action}-{stamp}.csv")


def run_sheet_action(
    action: str,
    selection: Selection,
    options: ActionOptions,
    *,
    connection: Connection,
    tier: int = 1,
    confirm: Confirm | None = None,
    progress: bool = False,
    notify: Notify | None = None,
) -> ActionRun:
    """Submit, approve, reject or reverse the time sheets ``selection`` names.

    Nothing is sent for a dry run, or when ``confirm(plan)`` returns false (pass None for
    ``--yes``). Writes the results file (``options.results`` or the default) after a run.
    """
    spec = sheet_action(action, tier=tier)
    return _run(spec, selection, options, connection, confirm, progress, notify)


def reject_entries(
    selection: Selection,
    comment: str,
    options: ActionOptions,
    *,
    connection: Connection,
    confirm: Confirm | None = None,
    progress: bool = False,
    notify: Notify | None = None,
) -> ActionRun:
    """Reject the time entries ``selection`` names, with ``comment`` (billed ones refused)."""
    spec = entry_reject(comment)
    return _run(spec, selection, options, connection, confirm, progress, notify)


def _run(
    spec: ActionSpec,
    selection: Selection,
    options: ActionOptions,
    connection: Connection,
    confirm: Confirm | None,
    progress: bool,
    notify: Notify | None,
) -> ActionRun:
    selection.check()
    options.check()
    if spec.kind == "entries":
        resolve_zone(selection.tz)

    async def go() -> ActionRun:
        async with connection.client(
            max_concurrency=options.concurrency, max_rate=options.max_rate
        ) as client:
            return await execute(
                client, spec, selection, options, confirm=confirm, progress=progress, notify=notify
            )

    return asyncio.run(go())


async def execute(
    client: CwClient,
    spec: ActionSpec,
    selection: Selection,
    options: ActionOptions,
    *,
    confirm: Confirm | None = None,
    progress: bool = False,
    notify: Notify | None = None,
    max_sends: int | None = None,
) -> ActionRun:
    """Select, plan, confirm, run and write the results file, over an open client.

    Ctrl-C while the requests run lets those in flight finish; the rest are recorded as
    not sent, and the results file is written all the same.
    """
    targets = await select(client, spec.kind, selection)
    notes: tuple[str, ...] = ()
    if spec.kind == "entries" and selection.tz is None:
        note = resolve_zone(None)[1]
        notes = (note,) if note else ()
    run = ActionRun(
        spec.kind,
        spec.name,
        tuple(plan_steps(targets, spec)),
        site=client.site.origin,
        dry_run=options.dry_run,
        notes=notes,
    )
    if options.dry_run:
        return run
    if run.to_send and confirm is not None and not confirm(run):
        return replace(run, declined=True)
    stop = asyncio.Event()
    with sigint_sets(stop, notify):
        outcomes = await run_steps(
            client,
            run.steps,
            spec,
            concurrency=options.concurrency,
            progress=progress,
            stop=stop,
            max_sends=max_sends,
        )
    path = options.results or default_results_path(spec.kind, spec.name, selection.ids_file)
    run = replace(run, outcomes=outcomes, interrupted=stop.is_set(), results_path=path)
    write_results(run, path)
    return run


def write_results(run: ActionRun, path: Path) -> None:
    """Write the results file (CSV or XLSX by extension)."""
    write_table(run.frame(), path, sheet_name="results")


async def list_sheets(client: CwClient, selection: Selection) -> pd.DataFrame:
    """The sheets ``selection`` names as a table: newest week first, then by member."""
    selection.check(need_filter=False)
    targets = await select(client, "sheets", selection)
    rows = [{"id": t.id, **t.details, "status": t.status} for t in targets]
    frame = pd.DataFrame(rows, columns=["id", "member", "period", "hours", "status"])
    if frame.empty:
        return frame
    frame = frame.sort_values(["period", "member", "id"], ascending=[False, True, True])
    return frame.reset_index(drop=True)


def sheets_table(selection: Selection, *, connection: Connection) -> pd.DataFrame:
    """``list_sheets`` over a fresh client (the call ``cwbulk sheets list`` makes)."""

    async def read() -> pd.DataFrame:
        async with connection.client() as client:
            return await list_sheets(client, selection)

    return asyncio.run(read())
