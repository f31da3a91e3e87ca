"""``cwbulk import`` as a library call: read → validate → resolve → fetch → plan → apply.

:func:`import_file` is the one function the command calls. It never writes to the
terminal: the caller passes ``confirm`` (shown the plan before anything is written) and
``notify`` (one-line messages). Every source row ends in exactly one result row, written
to the results file beside the input.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cwbulk.apply import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    OUTCOMES,
    RowOutcome,
    apply_plan,
)
from cwbulk.client import AUTO_RATE, CwClient
from cwbulk.conditions import and_, cond, in_chunks
from cwbulk.connect import Connection
from cwbulk.errors import ApiError, ConnectionFailed, InputError, NotFound, UsageError
from cwbulk.io import SheetData, write_table
from cwbulk.journal import Journal, RowRecord, RunInfo, now
from cwbulk.mapping import load_profile
from cwbulk.plan import (
    BILLED_STATUSES,
    LOCKED_STATUSES,
    WRITE_ACTIONS,
    DesiredRow,
    Plan,
    PlanItem,
    local_date_time,
    make_plan,
    parse_instant,
)
from cwbulk.problems import RowProblem
from cwbulk.resolve import CHARGE_TO_TYPES, STATUS_CODES, Resolver
from cwbulk.validate import ReadOptions, ValidationResult, validate_file

#: The outcomes of rows that were sent (a row skipped at the last check was not).
SENT_OUTCOMES = frozenset({"created", "updated", "failed"})

OnConflict = Literal["skip", "overwrite", "fail"]
ON_CONFLICT: tuple[OnConflict, ...] = ("skip", "overwrite", "fail")
#: The fields of existing entries that planning compares (smaller pages, faster fetches).
ENTRY_FIELDS = (
    "id",
    "member",
    "company",
    "chargeToType",
    "chargeToId",
    "timeStart",
    "timeEnd",
    "actualHours",
    "hoursDeduct",
    "workType",
    "workRole",
    "billableOption",
    "notes",
    "internalNotes",
    "mobileGuid",
    "status",
    "_info",
)
RESULT_COLUMNS = ("sheet", "row", "action", "outcome", "connectwiseId", "errorCode", "message")


@dataclass(frozen=True)
class ImportOptions:
    """Everything ``cwbulk import`` can be told, besides the file and the connection."""

    read: ReadOptions = field(default_factory=ReadOptions)
    dry_run: bool = False
    allow_inactive: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    max_rate: float | str | None = AUTO_RATE
    max_failures: int | None = None
    on_conflict: OnConflict = "skip"
    journal: Path | None = None
    results: Path | None = None
    errors_only: Path | None = None
    plan: Path | None = None

    def check(self) -> None:
        """``UsageError`` for option values that make no sense."""
        if self.batch_size < 1:
            raise UsageError(f"--batch-size {self.batch_size}: give at least 1.")
        if self.concurrency < 1:
            raise UsageError(f"--concurrency {self.concurrency}: give at least 1.")
        if isinstance(self.max_rate, float | int) and self.max_rate <= 0:
            raise UsageError(f"--max-rate {self.max_rate:g}: give a positive rate (requests/s).")
        if self.max_failures is not None and self.max_failures < 1:
            raise UsageError(f"--max-failures {self.max_failures}: give at least 1.")
        if self.on_conflict not in ON_CONFLICT:
            raise UsageError(f"--on-conflict {self.on_conflict!r}: use skip, overwrite or fail.")

    def journal_options(self) -> dict[str, Any]:
        """The options worth recording with a run (paths as text, no secrets)."""
        return {
            "batchSize": self.batch_size,
            "concurrency": self.concurrency,
            "maxRate": self.max_rate,
            "maxFailures": self.max_failures,
            "onConflict": self.on_conflict,
            "allowInactive": self.allow_inactive,
            "sheet": self.read.sheet,
            "mapping": str(self.read.mapping) if self.read.mapping else None,
            "tz": self.read.tz,
        }


@dataclass(frozen=True)
class ImportResult:
    """What an import planned and did; ``outcomes`` is empty for a dry run."""

    source: Path
    plan: Plan
    site: str
    tz: str
    profile: str
    notes: tuple[str, ...] = ()
    dry_run: bool = False
    outcomes: tuple[RowOutcome, ...] = ()
    run_id: int | None = None
    results_path: Path | None = None
    errors_path: Path | None = None
    plan_path: Path | None = None
    declined: bool = False
    interrupted: bool = False
    stopped: str | None = None
    #: Planned writes that an earlier run of this file already did (journal): skipped.
    already_done: int = 0
    #: Seconds spent planning (read, validate, resolve, fetch, plan) and sending.
    plan_seconds: float = 0.0
    send_seconds: float = 0.0
    #: Rows sent to ConnectWise (creates and updates, whatever their outcome).
    sent: int = 0

    def outcome_counts(self) -> dict[str, int]:
        """Rows per outcome (every outcome present)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in self.outcomes:
            counts[outcome.outcome] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """130 interrupted; 1 when rows are invalid or failed or nothing was done; else 0."""
        if self.interrupted:
            return 130
        if self.declined or self.stopped:
            return 1
        if self.dry_run:
            return 1 if self.plan.counts()["invalid"] else 0
        counts = self.outcome_counts()
        return 1 if counts["invalid"] or counts["failed"] else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object: counts, outcomes, run, results and the rest."""
        return {
            "source": str(self.source),
            "site": self.site,
            "timeZone": self.tz,
            "profile": self.profile,
            "dryRun": self.dry_run,
            "counts": self.plan.counts(),
            "outcomes": None if self.dry_run else self.outcome_counts(),
            "run": self.run_id,
            "results": str(self.results_path) if self.results_path else None,
            "errors": str(self.errors_path) if self.errors_path else None,
            "plan": str(self.plan_path) if self.plan_path else None,
            "declined": self.declined,
            "alreadyDone": self.already_done,
            "seconds": {"plan": round(self.plan_seconds, 3), "send": round(self.send_seconds, 3)},
            "sent": self.sent,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "notes": list(self.notes),
        }


#: Shown the plan (as an ``ImportResult`` with no outcomes yet); True means "write it".
Confirm = Callable[["ImportResult"], bool]
Notify = Callable[[str], None]


def import_file(
    path: str | Path,
    options: ImportOptions,
    *,
    connection: Connection,
    confirm: Confirm,
    progress: bool = False,
    notify: Notify | None = None,
) -> ImportResult:
    """Import one timesheet file into ConnectWise (or, with ``dry_run``, plan it only).

    Writes happen only when ``options.dry_run`` is false and ``confirm(preview)`` returns
    true (``lambda preview: True`` is ``--yes``); it is not asked when there is nothing
    to write. Raises ``CwbulkError`` subclasses for files, options and connections; row
    problems end up in the result, not as errors.
    """
    options.check()
    path = Path(path)
    began = time.perf_counter()
    validation = _validate(path, with_profile_zone(options.read, connection))
    return asyncio.run(
        _import(path, validation, options, connection, confirm, progress, notify, began)
    )


def with_profile_zone(read: ReadOptions, connection: Connection) -> ReadOptions:
    """The time zone rule: --tz, else the mapping file's, else the profile's, else the
    system's (validation knows the first, second and last)."""
    zone = connection.profile.timezone
    if read.tz or not zone:
        return read
    if read.mapping and load_profile(read.mapping).tz:
        return read
    return replace(read, tz=zone)


def _validate(path: Path, read: ReadOptions) -> ValidationResult:
    validation = validate_file(path, read)
    if not validation.sources or not any(len(s.frame) for s in validation.sources):
        raise InputError(f"{path.name} has no rows to import.")
    return validation


async def _import(
    path: Path,
    validation: ValidationResult,
    options: ImportOptions,
    connection: Connection,
    confirm: Confirm,
    progress: bool,
    notify: Notify | None,
    began: float,
) -> ImportResult:
    tz = ZoneInfo(validation.tz)
    sha = file_sha256(path)
    plan_path = options.plan or path.with_name(f"{path.name}.plan.json")
    async with connection.client(
        max_concurrency=options.concurrency, max_rate=options.max_rate
    ) as client:
        site, company = client.site.origin, client.company
        seen = {} if options.dry_run else _seen_in_plan_file(plan_path, sha, site, company)

        def made_from_other_files(guids: Iterable[str]) -> set[str]:
            with Journal(options.journal) as journal:
                return journal.made_from_other_files(guids, source=path, site=site, company=company)

        plan = await plan_rows(
            client,
            validation,
            tz=tz,
            options=options,
            seen=seen,
            other_files=made_from_other_files,
        )
        result = ImportResult(
            source=path,
            plan=plan,
            site=site,
            tz=validation.tz,
            profile=validation.profile,
            notes=validation.notes,
            dry_run=options.dry_run,
            plan_seconds=time.perf_counter() - began,
        )
        with Journal(options.journal) as journal:
            done = journal.finished_rows(source_sha256=sha, site=site, company=company)
            to_write = _writes(plan, options.on_conflict, done)
            result = replace(
                result, already_done=len(_writes(plan, options.on_conflict, {})) - len(to_write)
            )
            if options.dry_run:
                write_plan_file(
                    plan_path, plan, source=path, sha256=sha, site=site, company=company
                )
                return replace(result, plan_path=plan_path)
            refused = options.on_conflict == "fail" and plan.counts()["conflict"] > 0
            if to_write and not refused and not confirm(result):
                return replace(result, declined=True)
            run_id = journal.start_run(
                source=path.resolve(),
                source_sha256=sha,
                sheets=[s.name for s in validation.sources],
                site=site,
                company=company,
                options=options.journal_options(),
                rows=_planned_records(plan, options.on_conflict, done, refused),
            )
            applied = None
            sending = time.perf_counter()
            if to_write and not refused:
                applied = await apply_plan(
                    to_write,
                    client=client,
                    journal=journal,
                    run_id=run_id,
                    batch_size=options.batch_size,
                    concurrency=options.concurrency,
                    max_failures=options.max_failures,
                    overwrite=options.on_conflict == "overwrite",
                    progress=progress,
                    notify=notify,
                )
            outcomes = final_outcomes(
                plan,
                {(o.sheet, o.row): o for o in applied.outcomes} if applied else {},
                done=done,
                on_conflict=options.on_conflict,
                refused=refused,
            )
            result = replace(
                result,
                outcomes=outcomes,
                run_id=run_id,
                interrupted=bool(applied and applied.interrupted),
                send_seconds=time.perf_counter() - sending if applied else 0.0,
                sent=sum(o.outcome in SENT_OUTCOMES for o in applied.outcomes) if applied else 0,
                stopped=applied.stopped if applied else _refusal(plan) if refused else None,
            )
            status = (
                "interrupted" if result.interrupted else "stopped" if result.stopped else "finished"
            )
            journal.finish_run(
                run_id,
                status=status,
                counts={"plan": plan.counts(), "outcomes": result.outcome_counts()},
            )
    results_path = options.results or default_results_path(path)
    write_results(results_path, validation.sources, plan, outcomes)
    errors_path = options.errors_only
    if errors_path is not None:
        write_errors_only(errors_path, validation.sources, outcomes)
    return replace(result, results_path=results_path, errors_path=errors_path)


async def plan_rows(
    client: CwClient,
    validation: ValidationResult,
    *,
    tz: tzinfo,
    options: ImportOptions,
    seen: Mapping[int, str],
    other_files: Callable[[Iterable[str]], set[str]] = lambda _guids: set(),
) -> Plan:
    """Resolve the valid rows, fetch the entries they may match, and plan every row.

    ``other_files`` tells which of the fetched entries' mobileGuids cwbulk made from other
    files (the journal): a row with other content does not take those by mobileGuid.
    """
    problems = list(validation.problems)
    frame = _in_file_order(validation)
    ids = pd.DataFrame(index=frame.index)
    if len(frame):
        resolver = Resolver(client, allow_inactive=options.allow_inactive)
        resolution = await resolver.resolve(frame)
        problems += resolution.problems
        ids = resolution.ids
    # An existing entry may stay on a closed ticket or with an inactive member: those
    # only refuse new time. The problem counts if the row moves the entry onto them.
    with_id = {(str(s), int(r)) for s, r, i in _id_cells(frame) if i}
    staying = [p for p in problems if p.code in STATUS_CODES and (p.sheet, p.row) in with_id]
    problems = [p for p in problems if p not in staying]
    invalid = {(p.sheet, p.row) for p in problems if p.severity == "error"}
    # Rows with errors go to the plan too (as invalid): they keep their natural-key
    # occurrence, so a fixed row imported later does not take its twin's mobileGuid.
    desired = desired_rows(frame, ids, tz)
    valid = [d for d in desired if (d.sheet, d.row) not in invalid]
    existing = await fetch_existing(client, valid)
    guids = {str(e["mobileGuid"]).lower() for e in existing if e.get("mobileGuid")}
    plan = make_plan(
        desired,
        existing,
        tz=tz,
        problems=problems,
        seen_last_updated=seen,
        sheet_order=[s.name for s in validation.sources],
        other_files=other_files(guids) if guids else (),
    )
    return _account_for_every_row(_moves_onto(plan, staying), validation.sources)


def _in_file_order(validation: ValidationResult) -> pd.DataFrame:
    """The valid rows and the held invalid ones (``ValidationResult.held``), in file order."""
    if not len(validation.held):
        return validation.rows
    both = pd.concat([validation.rows, validation.held], ignore_index=True)
    sheet = both["sheet"].map({name: n for n, name in enumerate(validation.sheets)})
    order = np.lexsort((both["row"].to_numpy(), sheet.to_numpy()))
    return both.iloc[order].reset_index(drop=True)


#: The fields an edit must change to put an entry on what a status problem names.
STATUS_FIELDS = {
    "inactive_member": {"member"},
    "inactive_work_type": {"workType"},
    "inactive_work_role": {"workRole"},
    "ticket_closed": {"chargeToType", "chargeToId"},
    "ticket_no_time": {"chargeToType", "chargeToId"},
    "charge_code_without_time": {"chargeToType", "chargeToId"},
}


def _id_cells(frame: pd.DataFrame) -> Iterable[tuple[object, object, str]]:
    ids = frame["id"] if "id" in frame.columns else pd.Series("", index=frame.index)
    return zip(frame["sheet"], frame["row"], ids.fillna("").astype(str), strict=True)


def _moves_onto(plan: Plan, held: Sequence[RowProblem]) -> Plan:
    """Rows whose edit moves an entry onto a closed ticket or inactive record: invalid."""
    if not held:
        return plan
    by_row = {(p.sheet, p.row): p for p in held}
    items = []
    for item in plan.items:
        problem = by_row.get((item.sheet, item.row))
        fields = STATUS_FIELDS.get(problem.code, set()) if problem else set()
        if (
            problem
            and item.action in ("update", "conflict")
            and fields & {c.field for c in item.changes}
        ):
            item = replace(
                item, action="invalid", code=problem.code, message=problem.message, changes=()
            )
        items.append(item)
    return Plan(tuple(items))


# --- building the desired rows ----------------------------------------------------------


def desired_rows(
    frame: pd.DataFrame, ids: pd.DataFrame, tz: tzinfo, *, skip: Iterable[tuple[str, int]] = ()
) -> list[DesiredRow]:
    """The valid, resolved rows of the canonical ``frame`` as ``DesiredRow`` objects.

    A blank cell gives ``None`` (no opinion); ``start_given``/``time_end``/``hours_deduct``
    follow what the row itself gave, not what validation worked out for it.
    """
    skipped = set(skip)
    charge_types = {t.casefold(): t for t in CHARGE_TO_TYPES}
    rows = []
    records = frame.to_dict("records")
    id_records = ids.reindex(frame.index).to_dict("records")
    for r, found in zip(records, id_records, strict=True):
        sheet, number = str(r["sheet"]), int(r["row"])
        member_id = _int(found.get("memberId"))
        if (sheet, number) in skipped or member_id is None or not r["timeStart"]:
            continue
        text = {k: v for k, v in r.items() if isinstance(v, str)}
        kind = text.get("chargeToType", "")
        rows.append(
            DesiredRow(
                sheet=sheet,
                row=number,
                member_id=member_id,
                date=local_date_time(text["timeStart"], tz)[0],
                time_start=text["timeStart"],
                actual_hours=float(r["actualHours"]),
                charge_to_type=charge_types.get(
                    kind.replace(" ", "").casefold(), kind or "Company"
                ),
                charge_to_id=_int(found.get("chargeToId")),
                company_id=_int(found.get("companyId")),
                start_given=bool(text.get("start")),
                hours_given=bool(text.get("hours") or text.get("deduct") or not text.get("end")),
                time_end=(text.get("timeEnd") or None) if text.get("end") else None,
                hours_deduct=float(r["hoursDeduct"]) if text.get("deduct") else None,
                work_type_id=_int(found.get("workTypeId")),
                work_role_id=_int(found.get("workRoleId")),
                billable_option=text.get("billableOption") or None,
                notes=text.get("notes") or None,
                internal_notes=text.get("internalNotes") or None,
                entry_id=int(text["id"]) if text.get("id", "").isdigit() else None,
                last_updated=text.get("lastUpdated") or None,
                display={k: text[k] for k in _DISPLAY if text.get(k)},
            )
        )
    return rows


_DISPLAY = ("member", "company", "chargeTo", "workType", "workRole")


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


# --- fetching the existing entries -------------------------------------------------------


async def fetch_existing(client: CwClient, rows: Sequence[DesiredRow]) -> list[dict[str, Any]]:
    """The entries of the rows' members in the rows' date window, and any ids they name.

    Paged (1,000 a page) with ``member/id in (...)`` over a ``timeStart`` window a day
    wider than the rows' on each side (a local day is within a day of its UTC instants).
    """
    if not rows:
        return []
    starts = [s for s in (parse_instant(r.time_start) for r in rows) if s is not None]
    window = and_(
        cond("timeStart", ">=", min(starts) - timedelta(days=1)),
        cond("timeStart", "<=", max(starts) + timedelta(days=1)),
    )
    members = sorted({r.member_id for r in rows})
    lists = await asyncio.gather(
        *(
            client.list_items("time/entries", conditions=chunk, fields=ENTRY_FIELDS)
            for chunk in in_chunks("member/id", members, base=window)
        )
    )
    found = {int(e["id"]): e for entries in lists for e in entries}
    missing = sorted({r.entry_id for r in rows if r.entry_id is not None} - found.keys())
    pages = await asyncio.gather(
        *(
            client.get(
                "time/entries",
                params={"conditions": c, "fields": ",".join(ENTRY_FIELDS), "pageSize": 1000},
            )
            for c in in_chunks("id", missing)
        )
    )
    found.update({int(e["id"]): e for page in pages for e in page})
    return list(found.values())


# --- plan files --------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_plan_file(
    path: Path, plan: Plan, *, source: Path, sha256: str, site: str, company: str
) -> None:
    """Write the plan as JSON (what the dry run showed, for the real run to compare with)."""
    document = {
        "source": str(source),
        "sha256": sha256,
        "site": site,
        "company": company,
        "created": now(),
        **plan.to_dict(),
    }
    # One item per line: as easy to read as indented JSON, and json's C encoder writes it
    # (indenting falls back to the pure-Python one, slow on 10,000 rows).
    items = ",\n".join("  " + json.dumps(i, ensure_ascii=False) for i in document.pop("items"))
    head = json.dumps(document, indent=1, ensure_ascii=False).removesuffix("\n}")
    try:
        path.write_text(f'{head},\n "items": [\n{items}\n ]\n}}\n', encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"can't write the plan file {path}: {exc.strerror}",
            hint="Pass --plan with a path in a folder you can write to.",
        ) from exc


def _seen_in_plan_file(path: Path, sha256: str, site: str, company: str) -> dict[int, str]:
    """``lastUpdated`` per entry id, from the dry run's plan of this very file and site."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or (
        document.get("sha256"),
        document.get("site"),
        document.get("company"),
    ) != (sha256, site, company):
        return {}
    return {
        int(item["entryId"]): str(item["lastUpdated"])
        for item in document.get("items") or []
        if isinstance(item, dict) and item.get("entryId") and item.get("lastUpdated")
    }


# --- deciding what to write, and what became of every row --------------------------------


def _account_for_every_row(plan: Plan, sources: Sequence[SheetData]) -> Plan:
    """Add an invalid item for any source row that validation left out (none should be)."""
    planned = {(i.sheet, i.row) for i in plan.items}
    extra = [
        PlanItem(
            s.name,
            int(row),
            "invalid",
            code="not_read",
            message="the row could not be read as a time entry",
        )
        for s in sources
        for row in s.frame.index
        if (s.name, int(row)) not in planned
    ]
    if not extra:
        return plan
    order = {s.name: n for n, s in enumerate(sources)}
    items = sorted((*plan.items, *extra), key=lambda i: (order.get(i.sheet, 0), i.row))
    return Plan(tuple(items))


def _writes(
    plan: Plan, on_conflict: OnConflict, done: Mapping[tuple[str, int], RowRecord]
) -> list[PlanItem]:
    writable = set(WRITE_ACTIONS) | ({"conflict"} if on_conflict == "overwrite" else set())
    return [
        item for item in plan.items if item.action in writable and not _already_done(item, done)
    ]


def _already_done(item: PlanItem, done: Mapping[tuple[str, int], RowRecord]) -> bool:
    record = done.get((item.sheet, item.row))
    return record is not None and record.key == item.key


def _planned_records(
    plan: Plan,
    on_conflict: OnConflict,
    done: Mapping[tuple[str, int], RowRecord],
    refused: bool,
) -> list[RowRecord]:
    """The journal rows of a new run: the plan, with outcomes known before any request."""
    known = final_outcomes(plan, {}, done=done, on_conflict=on_conflict, refused=refused)
    by_row = {(o.sheet, o.row): o for o in known}
    writes = {(i.sheet, i.row) for i in _writes(plan, on_conflict, done)}
    records = []
    for item in plan.items:
        outcome = (
            None
            if (item.sheet, item.row) in writes and not refused
            else by_row[(item.sheet, item.row)]
        )
        records.append(
            RowRecord(
                sheet=item.sheet,
                row=item.row,
                key=item.key,
                action=item.action,
                mobile_guid=item.mobile_guid,
                outcome=outcome.outcome if outcome else None,
                entry_id=outcome.entry_id if outcome else item.entry_id,
                error_code=outcome.error_code if outcome else None,
                message=(outcome.message or None) if outcome else None,
            )
        )
    return records


def final_outcomes(
    plan: Plan,
    applied: Mapping[tuple[str, int], RowOutcome],
    *,
    done: Mapping[tuple[str, int], RowRecord],
    on_conflict: OnConflict,
    refused: bool,
) -> tuple[RowOutcome, ...]:
    """One outcome per plan item: what was applied, or what the plan decided without HTTP."""
    outcomes = []
    for item in plan.items:
        where = (item.sheet, item.row)
        if where in applied:
            outcomes.append(applied[where])
            continue
        record = done.get(where)
        if item.action == "unchanged":
            note = f"{record.outcome} by run {record.run}" if record is not None else ""
            outcome = RowOutcome(item.sheet, item.row, "unchanged", item.entry_id, None, note)
        elif item.action == "invalid":
            outcome = RowOutcome(item.sheet, item.row, "invalid", None, item.code, item.message)
        elif item.action == "duplicate":
            outcome = RowOutcome(item.sheet, item.row, "skipped", None, item.code, item.message)
        elif item.action == "conflict" and on_conflict == "fail":
            outcome = RowOutcome(
                item.sheet, item.row, "failed", item.entry_id, item.code, item.message
            )
        elif item.action == "conflict" and on_conflict == "skip":
            outcome = RowOutcome(
                item.sheet, item.row, "skipped", item.entry_id, item.code, item.message
            )
        elif record is not None and _already_done(item, done):
            outcome = RowOutcome(
                item.sheet,
                item.row,
                "skipped",
                record.entry_id,
                "already_done",
                f"already {record.outcome} by run {record.run} (entry {record.entry_id})",
            )
        elif refused:
            outcome = RowOutcome(
                item.sheet, item.row, "skipped", item.entry_id, "not_sent", _refusal(plan)
            )
        else:
            outcome = RowOutcome(
                item.sheet, item.row, "skipped", item.entry_id, "not_sent", "not sent"
            )
        outcomes.append(outcome)
    return tuple(outcomes)


def _refusal(plan: Plan) -> str:
    return (
        f"nothing was written: the plan has {plan.counts()['conflict']} conflicts and "
        "--on-conflict is fail; resolve them (see the results file) or use "
        "--on-conflict skip"
    )


# --- results files -----------------------------------------------------------------------


def default_results_path(source: Path) -> Path:
    """``<stem>.results.xlsx`` beside a workbook, ``<stem>.results.csv`` beside the rest."""
    suffix = (
        ".xlsx" if source.suffix.lower() in (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods") else ".csv"
    )
    return source.with_name(f"{source.stem}.results{suffix}")


def results_frame(
    sources: Sequence[SheetData], plan: Plan, outcomes: Sequence[RowOutcome]
) -> pd.DataFrame:
    """One row per source row: sheet, row, action, outcome, id, error, then its cells."""
    actions = {(i.sheet, i.row): i.action for i in plan.items}
    by_row = {(o.sheet, o.row): o for o in outcomes}
    pieces = []
    for source in sources:
        original = source.frame.rename(
            columns={c: f"{c} (source)" for c in source.frame.columns if c in RESULT_COLUMNS}
        )
        head = []
        for row in original.index:
            outcome = by_row[(source.name, int(row))]
            head.append(
                {
                    "sheet": source.name,
                    "row": int(row),
                    "action": actions[(source.name, int(row))],
                    "outcome": outcome.outcome,
                    "connectwiseId": "" if outcome.entry_id is None else str(outcome.entry_id),
                    "errorCode": outcome.error_code or "",
                    "message": outcome.message,
                }
            )
        left = pd.DataFrame(head, columns=list(RESULT_COLUMNS), index=original.index)
        pieces.append(pd.concat([left, original], axis=1).reset_index(drop=True))
    return pd.concat(pieces, ignore_index=True).fillna("") if pieces else pd.DataFrame()


def write_results(
    path: Path, sources: Sequence[SheetData], plan: Plan, outcomes: Sequence[RowOutcome]
) -> None:
    """Write the results file (CSV or XLSX by extension)."""
    write_table(results_frame(sources, plan, outcomes), path, sheet_name="results")


def write_errors_only(
    path: Path, sources: Sequence[SheetData], outcomes: Sequence[RowOutcome]
) -> None:
    """The failed and invalid rows in the input's own layout, to fix and import again."""
    bad = {(o.sheet, o.row) for o in outcomes if o.outcome in ("failed", "invalid")}
    pieces = [s.frame.loc[[r for r in s.frame.index if (s.name, int(r)) in bad]] for s in sources]
    frame = pd.concat(pieces, ignore_index=True).fillna("") if pieces else pd.DataFrame()
    write_table(frame, path)


# --- rollback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackItem:
    """One entry a run created: deleted, to delete, refused, gone or failed, and why."""

    sheet: str
    row: int
    entry_id: int | None
    mobile_guid: str | None
    outcome: Literal["delete", "deleted", "refused", "gone", "failed"]
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The item as a plain dict."""
        return {
            "sheet": self.sheet,
            "row": self.row,
            "entryId": self.entry_id,
            "mobileGuid": self.mobile_guid,
            "outcome": self.outcome,
            "message": self.message,
        }


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback found and did (``delete`` items are what a dry run would delete)."""

    run: RunInfo
    items: tuple[RollbackItem, ...]
    updated: int = 0
    dry_run: bool = False
    declined: bool = False

    def counts(self) -> dict[str, int]:
        """Entries per outcome."""
        counts = dict.fromkeys(("delete", "deleted", "refused", "gone", "failed"), 0)
        for item in self.items:
            counts[item.outcome] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """1 when an entry was refused or failed (or the user said no); else 0."""
        counts = self.counts()
        return 1 if self.declined or counts["refused"] or counts["failed"] else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "run": self.run.id,
            "dryRun": self.dry_run,
            "declined": self.declined,
            "counts": self.counts(),
            "updatedLeftAlone": self.updated,
            "items": [i.to_dict() for i in self.items],
        }


def rollback_run(
    run_id: int,
    *,
    connection: Connection,
    journal_path: Path | None = None,
    dry_run: bool = False,
    confirm: Callable[[RollbackResult], bool],
    concurrency: int = DEFAULT_CONCURRENCY,
    max_rate: float | str | None = AUTO_RATE,
) -> RollbackResult:
    """Delete the entries run ``run_id`` created, and only those (by id and mobileGuid).

    Entries that are billed, or on a submitted or approved sheet, are refused and reported;
    entries already deleted are ``gone``. ``confirm`` sees the preview before any DELETE.
    Updates the run made are not undone (they are counted in ``updated``).
    """
    return asyncio.run(
        _rollback(run_id, connection, journal_path, dry_run, confirm, concurrency, max_rate)
    )


async def _rollback(
    run_id: int,
    connection: Connection,
    journal_path: Path | None,
    dry_run: bool,
    confirm: Callable[[RollbackResult], bool],
    concurrency: int,
    max_rate: float | str | None,
) -> RollbackResult:
    with Journal(journal_path) as journal:
        run = journal.run(run_id)
        async with connection.client(max_concurrency=concurrency, max_rate=max_rate) as client:
            if (run.site, run.company) != (client.site.origin, client.company):
                raise UsageError(
                    f"Run {run_id} wrote to {run.site} (company {run.company}), not to "
                    f"{client.site.origin} (company {client.company}).",
                    hint="Connect to the same site (--profile or --sandbox) to roll it back.",
                )
            rows = journal.created_rows(run_id)
            elsewhere = journal.guids_created_elsewhere(
                run_id, [r.mobile_guid for r in rows if r.entry_id is None and r.mobile_guid]
            )
            updated = sum(r.outcome == "updated" for r in journal.rows(run_id))
            items = await _rollback_preview(client, rows, elsewhere)
            result = RollbackResult(run, items, updated=updated, dry_run=dry_run)
            to_delete = [i for i in items if i.outcome == "delete"]
            if dry_run:
                return result
            if to_delete and not confirm(result):
                return replace(result, declined=True)
            gate = asyncio.Semaphore(concurrency)

            async def delete(item: RollbackItem) -> RollbackItem:
                async with gate:
                    try:
                        await client.delete(f"time/entries/{item.entry_id}")
                    except NotFound:
                        return replace(item, outcome="gone", message="already deleted")
                    except (ApiError, ConnectionFailed) as exc:
                        return replace(item, outcome="failed", message=exc.message)
                return replace(item, outcome="deleted", message="")

            done = {(i.sheet, i.row): i for i in await asyncio.gather(*map(delete, to_delete))}
        final = tuple(done.get((i.sheet, i.row), i) for i in items)
        result = replace(result, items=final)
        complete = not (result.counts()["refused"] or result.counts()["failed"])
        journal.mark_rolled_back(
            run_id,
            [(i.sheet, i.row, i.entry_id) for i in final if i.outcome in ("deleted", "gone")],
            status="rolled back" if complete else "partly rolled back",
        )
        return result


async def _rollback_preview(
    client: CwClient, rows: Sequence[RowRecord], elsewhere: set[str]
) -> tuple[RollbackItem, ...]:
    """Each created row's entry, looked up by id (or by mobileGuid when the id is unknown)."""
    fields = {"fields": "id,mobileGuid,status,timeSheet", "pageSize": 1000}
    by_id = [r.entry_id for r in rows if r.entry_id is not None]
    by_guid = [
        r.mobile_guid
        for r in rows
        if r.entry_id is None and r.mobile_guid and r.mobile_guid not in elsewhere
    ]
    queries = [*in_chunks("id", by_id), *in_chunks("mobileGuid", by_guid)]
    pages = await asyncio.gather(
        *(client.get("time/entries", params={"conditions": q, **fields}) for q in queries)
    )
    entries = [e for page in pages for e in page]
    ids = {int(e["id"]): e for e in entries}
    guids = {str(e.get("mobileGuid") or "").lower(): e for e in sorted(entries, key=_entry_id)}
    items = []
    for r in rows:
        guid = (r.mobile_guid or "").lower()
        entry = ids.get(r.entry_id) if r.entry_id is not None else guids.get(guid)
        item = RollbackItem(r.sheet, r.row, r.entry_id, r.mobile_guid, "delete")
        if r.entry_id is None and guid in elsewhere:
            item = replace(item, outcome="gone", message="created by another run")
        elif entry is None:
            item = replace(item, outcome="gone", message="not in ConnectWise (already deleted)")
        elif str(entry.get("mobileGuid") or "").lower() != guid:
            item = replace(
                item,
                entry_id=int(entry["id"]),
                outcome="refused",
                message=f"entry {entry['id']} no longer carries the mobileGuid this run gave it",
            )
        else:
            item = replace(item, entry_id=int(entry["id"]))
            status = str(entry.get("status") or "Open")
            if status in BILLED_STATUSES | LOCKED_STATUSES:
                sheet = (entry.get("timeSheet") or {}).get("name")
                where = "billed" if status in BILLED_STATUSES else "on a submitted or approved"
                where += f" time sheet {sheet}" if sheet and status not in BILLED_STATUSES else ""
                item = replace(
                    item,
                    outcome="refused",
                    message=f"entry {entry['id']} is {where} (status {status}); left alone",
                )
        items.append(item)
    return tuple(items)


def _entry_id(entry: Mapping[str, Any]) -> int:
    return int(entry["id"])
