"""Desired rows against existing ConnectWise entries → one plan item per source row.

Pure functions over plain data: no HTTP, no pandas, no terminal. ``importer.py`` builds the
``DesiredRow`` objects from the validated, resolved frame and fetches the existing entries;
``make_plan`` decides, for every source row, one action:

- ``create``: no existing entry matches; the body carries a deterministic ``mobileGuid``.
- ``update``: an existing entry matches and some given fields differ (only those are sent).
- ``unchanged``: an existing entry matches and nothing given differs.
- ``conflict``: the entry changed in ConnectWise since the sheet was exported (the row's
  ``lastUpdated``) or since the plan the user saw (``seen_last_updated``), and the row would
  change it.
- ``duplicate``: the row repeats an earlier row of the file (same content, or same id).
- ``invalid``: validation or resolution found an error in the row, or the row would
  change a billed entry.

Existing entries are matched by ``id`` (rows exported from ConnectWise carry it), then by
identical content under the same natural key, then by ``mobileGuid``, then by the natural
key, so entries that people typed are recognised too. The occurrence part of the key
counts a file's rows in order, so it moves when rows come and go (a fixed errors-only
file, a row inserted above its twin). Matching guards against that: an unchanged entry is
found by content wherever its row now sits, the natural key never takes an entry that
cwbulk made for another key, nor (by key or ``mobileGuid``) one it made from another file
with other content, and a new row whose ``mobileGuid`` an entry already carries gets the
next free occurrence instead.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from cwbulk.problems import RowProblem

Action = Literal["create", "update", "unchanged", "conflict", "duplicate", "invalid"]
ACTIONS: tuple[Action, ...] = ("create", "update", "unchanged", "conflict", "duplicate", "invalid")
WRITE_ACTIONS: frozenset[str] = frozenset({"create", "update"})

#: Entry statuses whose entries can't be changed or deleted: never again (billed), or
#: not until the time sheet is rejected or reversed (submitted, approved).
BILLED_STATUSES = frozenset({"Billed", "BilledAgreement", "WrittenOff"})
LOCKED_STATUSES = frozenset(
    {"PendingApproval", "PendingProjectApproval", "ApprovedByTierOne", "ApprovedByTierTwo"}
    | {"ReadyToBill"}
)

# Fixed forever: every cwbulk, on every machine, derives the same mobileGuid for a row.
MOBILE_GUID_NAMESPACE = uuid.UUID("cc1d9ab6-d3e1-4564-945e-11fce13ed690")

CW_DATETIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class DesiredRow:
    """One valid, resolved source row: what the sheet wants ConnectWise to hold.

    Optional fields are ``None`` when the sheet left them blank: a blank cell means "no
    opinion", so it is neither sent on create nor compared on update. ``start_given`` says
    whether the sheet gave the start (rows with hours only are stacked from the day start,
    and those invented times are never compared with an entry); ``hours_given`` is false
    when the hours were worked out from start and end with no deduct given, which says
    nothing about an entry's own deduct, so its hours are not compared either.
    ``display`` holds the sheet's own text for the diff (member, chargeTo, workType, …).
    """

    sheet: str
    row: int
    member_id: int
    date: str
    time_start: str
    actual_hours: float
    charge_to_type: str
    charge_to_id: int | None = None
    company_id: int | None = None
    start_given: bool = False
    hours_given: bool = True
    time_end: str | None = None
    hours_deduct: float | None = None
    work_type_id: int | None = None
    work_role_id: int | None = None
    billable_option: str | None = None
    notes: str | None = None
    internal_notes: str | None = None
    entry_id: int | None = None
    last_updated: str | None = None
    display: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldChange:
    """One field an update changes: display text before and after, and the value to send."""

    field: str
    before: str
    after: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """The change as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class PlanItem:
    """What will happen to one source row, and why."""

    sheet: str
    row: int
    action: Action
    key: str = ""
    mobile_guid: str | None = None
    entry_id: int | None = None
    match: str | None = None
    last_updated: str | None = None
    body: Mapping[str, Any] | None = None
    changes: tuple[FieldChange, ...] = ()
    code: str | None = None
    message: str = ""
    display: Mapping[str, str] = field(default_factory=dict)

    def patch_ops(self) -> list[dict[str, Any]]:
        """The JSON Patch body of an update: one ``replace`` per changed field."""
        return [{"op": "replace", "path": c.field, "value": c.value} for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        """The item as a plain, JSON-ready dict."""
        return {
            "sheet": self.sheet,
            "row": self.row,
            "action": self.action,
            "key": self.key,
            "mobileGuid": self.mobile_guid,
            "entryId": self.entry_id,
            "match": self.match,
            "lastUpdated": self.last_updated,
            "body": dict(self.body) if self.body is not None else None,
            "changes": [c.to_dict() for c in self.changes],
            "code": self.code,
            "message": self.message,
            "display": dict(self.display),
        }


@dataclass(frozen=True)
class Plan:
    """Every source row's plan item, in file order."""

    items: tuple[PlanItem, ...]

    def counts(self) -> dict[str, int]:
        """Rows per action, every action present (0 when none)."""
        counts = dict.fromkeys(ACTIONS, 0)
        for item in self.items:
            counts[item.action] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The plan as a plain, JSON-ready dict."""
        return {"counts": self.counts(), "items": [i.to_dict() for i in self.items]}


def natural_key(
    *,
    member_id: int,
    date: str,
    charge_to_type: str,
    charge_to_id: int | None,
    hours: float,
    start: str = "",
    occurrence: int = 1,
) -> str:
    """The natural key as text: member|date|chargeToType|chargeToId|hours|start|occurrence."""
    parts = (member_id, date, charge_to_type, "" if charge_to_id is None else charge_to_id)
    return "|".join(str(p) for p in (*parts, f"{hours:.2f}", start, occurrence))


def mobile_guid(key: str) -> str:
    """The deterministic ``mobileGuid`` of a natural key (uuid5 in cwbulk's namespace)."""
    return str(uuid.uuid5(MOBILE_GUID_NAMESPACE, key))


def local_date_time(cw_datetime: str, tz: tzinfo) -> tuple[str, str]:
    """A ConnectWise UTC datetime as the local ``(YYYY-MM-DD, HH:MM)`` in ``tz``."""
    moment = parse_instant(cw_datetime)
    if moment is None:
        return "", ""
    local = moment.astimezone(tz)
    return local.date().isoformat(), local.strftime("%H:%M")


def parse_instant(text: str | None) -> datetime | None:
    """An ISO datetime as an aware UTC datetime (naive counts as UTC); None if unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def same_instant(a: str | None, b: str | None) -> bool:
    """Whether two datetimes (``lastUpdated`` values) name the same moment."""
    pa, pb = parse_instant(a), parse_instant(b)
    if pa is None or pb is None:
        return (a or "").strip() == (b or "").strip()
    return pa == pb


def make_plan(
    rows: Sequence[DesiredRow],
    existing: Iterable[Mapping[str, Any]],
    *,
    tz: tzinfo,
    problems: Iterable[RowProblem] = (),
    seen_last_updated: Mapping[int, str] | None = None,
    sheet_order: Sequence[str] = (),
    other_files: Iterable[str] = (),
) -> Plan:
    """Plan every source row: ``rows`` (resolved) and the rows with errors.

    ``existing`` are the ConnectWise entries of the rows' members and dates (and of any ids
    the sheet names); ``problems`` are validation and resolution problems (only errors make
    a row invalid; such a row may be among ``rows`` too, to keep its key's occurrence);
    ``seen_last_updated`` maps entry ids to the ``lastUpdated`` of the plan the user saw,
    so an entry changed since is a conflict. ``other_files`` are the mobileGuids of
    entries cwbulk made from another file (the journal knows): a row whose key gives such
    a guid takes the entry only when their content is the same, since a row with other
    content is new time, not an edit of that file's row. Items come in file order:
    ``sheet_order``, then order of appearance, then row number.
    """
    errors: dict[tuple[str, int], list[RowProblem]] = defaultdict(list)
    for problem in problems:
        if problem.severity == "error":
            errors[(problem.sheet, problem.row)].append(problem)
    index = _ExistingIndex(existing, tz, other_files)
    seen = seen_last_updated or {}
    items: list[PlanItem] = []
    keyed: list[tuple[DesiredRow, str, str]] = []
    first_by_content: dict[tuple, int] = {}
    first_by_id: dict[int, int] = {}
    occurrences: dict[str, int] = defaultdict(int)
    for desired in rows:
        base = _base_key(desired, tz)
        if (desired.sheet, desired.row) in errors:
            # The row keeps its occurrence, so once fixed (in an errors-only file, say) it
            # gets its own mobileGuid rather than the one of the twin that followed it.
            occurrences[base] += 1
            continue
        content = _content(desired)
        if content in first_by_content:
            items.append(_duplicate(desired, base, first_by_content[content], "same content"))
            continue
        if desired.entry_id is not None and desired.entry_id in first_by_id:
            earlier = first_by_id[desired.entry_id]
            items.append(_duplicate(desired, base, earlier, f"same id {desired.entry_id}"))
            continue
        first_by_content[content] = desired.row
        if desired.entry_id is not None:
            first_by_id[desired.entry_id] = desired.row
        occurrences[base] += 1
        key = f"{base}|{occurrences[base]}"
        keyed.append((desired, key, mobile_guid(key)))

    # Matching runs in passes (ids, identical content, mobileGuids, natural keys) so a
    # row's own entry is never taken by an earlier row's looser match.
    matched: dict[tuple[str, int], tuple[Mapping[str, Any], str]] = {}
    claimed: dict[int, tuple[DesiredRow, str]] = {}
    for how in ("id", "content", "mobileGuid", "key"):
        for desired, key, guid in keyed:
            if (desired.sheet, desired.row) in matched:
                continue
            entry = index.find(desired, how, key, guid, claimed)
            if entry is not None:
                found_by = "mobileGuid" if how == "content" and _guid(entry) == guid else how
                matched[(desired.sheet, desired.row)] = (entry, found_by)
                claimed[int(entry["id"])] = (desired, found_by)

    taken = set(index.by_guid) | {guid for _desired, _key, guid in keyed}
    for desired, key, guid in keyed:
        found = matched.get((desired.sheet, desired.row))
        if found is not None:
            entry, how = found
            seen_at = seen.get(int(entry["id"]))
            items.append(_compare(desired, entry, key, how, seen_at, tz))
        elif desired.entry_id is not None:
            items.append(
                _invalid(
                    desired,
                    key,
                    "unknown_entry_id",
                    (
                        f"time entry id {desired.entry_id} does not exist in ConnectWise; "
                        "clear the id cell to create the entry anew"
                    ),
                )
            )
        elif guid in index.by_guid and claimed.get(_id(index.by_guid[guid]), ("", ""))[1] == "id":
            # The row made that entry once, and another row now edits it by its id.
            entry_id = _id(index.by_guid[guid])
            why = f"both stand for ConnectWise entry {entry_id}"
            items.append(_duplicate(desired, key, claimed[entry_id][0].row, why))
        else:
            if guid in index.by_guid:  # another row's entry: by content, or another file's
                key, guid = _free_key(key, taken)
                taken.add(guid)
            body = create_body(desired, guid)
            items.append(
                PlanItem(
                    desired.sheet,
                    desired.row,
                    "create",
                    key=key,
                    mobile_guid=guid,
                    body=body,
                    message=_same_key_note(index.others_made_by_cwbulk(desired, key, claimed)),
                    display=desired.display,
                )
            )

    for (sheet, row), row_problems in errors.items():
        # Every problem of the row, so its results row says all there is to fix.
        message = "; ".join(dict.fromkeys(p.message for p in row_problems))
        items.append(PlanItem(sheet, row, "invalid", code=row_problems[0].code, message=message))

    order = {name: n for n, name in enumerate(sheet_order)}
    for item in items:
        order.setdefault(item.sheet, len(order))
    items.sort(key=lambda i: (order[i.sheet], i.row))
    return Plan(tuple(items))


def _free_key(key: str, taken: set[str]) -> tuple[str, str]:
    """The key with the first later occurrence whose ``mobileGuid`` nothing carries yet."""
    base, occurrence = key.rsplit("|", 1)
    for n in itertools.count(int(occurrence) + 1):
        candidate = f"{base}|{n}"
        if mobile_guid(candidate) not in taken:
            return candidate, mobile_guid(candidate)
    raise AssertionError("unreachable")


def create_body(desired: DesiredRow, guid: str) -> dict[str, Any]:
    """The POST body of a new entry: every field the sheet gave, plus its ``mobileGuid``."""
    body: dict[str, Any] = {
        "member": {"id": desired.member_id},
        "chargeToType": desired.charge_to_type,
        "timeStart": desired.time_start,
        "actualHours": round(desired.actual_hours, 2),
        "mobileGuid": guid,
    }
    optional = {
        "chargeToId": desired.charge_to_id,
        "company": _ref(desired.company_id),
        "timeEnd": desired.time_end,
        "hoursDeduct": desired.hours_deduct,
        "workType": _ref(desired.work_type_id),
        "workRole": _ref(desired.work_role_id),
        "billableOption": desired.billable_option,
        "notes": desired.notes,
        "internalNotes": desired.internal_notes,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


# --- matching ---------------------------------------------------------------------------


class _ExistingIndex:
    """Existing entries indexed by id, mobileGuid and natural key (with and without start)."""

    def __init__(
        self, entries: Iterable[Mapping[str, Any]], tz: tzinfo, other_files: Iterable[str] = ()
    ) -> None:
        self.tz = tz
        self.other_files = {g.lower() for g in other_files}
        self.by_id: dict[int, Mapping[str, Any]] = {}
        self.by_guid: dict[str, Mapping[str, Any]] = {}
        self.by_base: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.by_base_start: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for entry in entries:
            if entry.get("id") is None or int(entry["id"]) in self.by_id:
                continue
            self.by_id[int(entry["id"])] = entry
            if entry.get("mobileGuid"):
                self.by_guid[str(entry["mobileGuid"]).lower()] = entry
            day, start = local_date_time(str(entry.get("timeStart") or ""), tz)
            base = natural_key(
                member_id=_ref_id(entry, "member") or 0,
                date=day,
                charge_to_type=str(entry.get("chargeToType") or ""),
                charge_to_id=_charge_to_id(entry),
                hours=float(entry.get("actualHours") or 0.0),
                start="",
            ).rsplit("|", 2)[0]
            self.by_base[base].append(entry)
            self.by_base_start[f"{base}|{start}"].append(entry)
        for bucket in (*self.by_base.values(), *self.by_base_start.values()):
            bucket.sort(key=lambda e: (str(e.get("timeStart") or ""), int(e["id"])))

    def find(
        self, desired: DesiredRow, how: str, key: str, guid: str, claimed: Mapping[int, Any]
    ) -> Mapping[str, Any] | None:
        """The unclaimed entry this row stands for by one way of matching, if any."""
        if how == "id":
            return self.by_id.get(desired.entry_id) if desired.entry_id is not None else None
        if desired.entry_id is not None:
            return None
        if how == "mobileGuid":
            entry = self.by_guid.get(guid)
            if entry is None or int(entry["id"]) in claimed:
                return None
            if guid in self.other_files and not _same_content(desired, entry, self.tz):
                return None
            return entry
        free = [e for e in self._bucket(desired, key) if int(e["id"]) not in claimed]
        if how == "content":  # a row of cwbulk's whose occurrence moved finds its entry
            same = [e for e in free if _made_by_cwbulk(e) and _same_content(desired, e, self.tz)]
            return next((e for e in same if _guid(e) == guid), same[0] if same else None)
        # An entry cwbulk made for another key, or from another file, belongs to another
        # row (one that moved, or is not in this file): taking it would overwrite it.
        return next((e for e in free if self._may_take_by_key(e, guid)), None)

    def _may_take_by_key(self, entry: Mapping[str, Any], guid: str) -> bool:
        if not _made_by_cwbulk(entry):
            return True
        return _guid(entry) == guid and guid not in self.other_files

    def _bucket(self, desired: DesiredRow, key: str) -> list[Mapping[str, Any]]:
        """The entries with the row's natural key (start included when the row gives it)."""
        base = key.rsplit("|", 1)[0]
        if desired.start_given:
            return self.by_base_start.get(base, [])
        return self.by_base.get(base.rsplit("|", 1)[0], [])

    def others_made_by_cwbulk(
        self, desired: DesiredRow, key: str, claimed: Mapping[int, Any]
    ) -> list[int]:
        """Ids of the entries with the row's natural key that cwbulk made for rows not in
        this plan (no row claimed them)."""
        return [
            int(e["id"])
            for e in self._bucket(desired, key)
            if _made_by_cwbulk(e) and int(e["id"]) not in claimed
        ]


def _same_key_note(entry_ids: Sequence[int]) -> str:
    if not entry_ids:
        return ""
    listed = ", ".join(map(str, entry_ids[:3])) + (" …" if len(entry_ids) > 3 else "")
    return (
        f"ConnectWise already has entry {listed} with this member, date, charge-to and hours, "
        "made by cwbulk from another row; if it is this row's time, give the row that "
        "entry's id (it is then updated) or leave the row out"
    )


def _same_content(desired: DesiredRow, entry: Mapping[str, Any], tz: tzinfo) -> bool:
    """No field the row gives differs, and blank notes mean no notes: twins that differ
    only in notes, one of them blank, are two rows, not one."""
    return not any(diff_entry(desired, entry, tz)) and all(
        _text(entry.get(name)) == _text(given)
        for name, given in (("notes", desired.notes), ("internalNotes", desired.internal_notes))
    )


def _id(entry: Mapping[str, Any]) -> int:
    return int(entry["id"])


def _guid(entry: Mapping[str, Any]) -> str:
    return str(entry.get("mobileGuid") or "").lower()


def _made_by_cwbulk(entry: Mapping[str, Any]) -> bool:
    """Whether the entry's ``mobileGuid`` is a name-based (version 5) UUID, as cwbulk's are;
    ConnectWise and its apps give random ones."""
    try:
        return uuid.UUID(_guid(entry)).version == 5
    except ValueError:
        return False


def _base_key(desired: DesiredRow, tz: tzinfo) -> str:
    start = local_date_time(desired.time_start, tz)[1] if desired.start_given else ""
    return natural_key(
        member_id=desired.member_id,
        date=desired.date,
        charge_to_type=desired.charge_to_type,
        charge_to_id=_desired_charge_to_id(desired),
        hours=desired.actual_hours,
        start=start,
    ).rsplit("|", 1)[0]


_NOT_CONTENT = frozenset({"sheet", "row", "display"})


def _content(desired: DesiredRow) -> tuple:
    skip = _NOT_CONTENT if desired.start_given else _NOT_CONTENT | {"time_start"}
    # (time_start of a row without a start is stacked from the day start: not its content)
    return tuple(str(getattr(desired, f.name)) for f in fields(DesiredRow) if f.name not in skip)


def _invalid(desired: DesiredRow, key: str, code: str, message: str) -> PlanItem:
    return PlanItem(
        desired.sheet,
        desired.row,
        "invalid",
        key=key,
        code=code,
        message=message,
        display=desired.display,
    )


def _duplicate(desired: DesiredRow, base: str, earlier: int, why: str) -> PlanItem:
    return PlanItem(
        desired.sheet,
        desired.row,
        "duplicate",
        key=base,
        code="duplicate_row",
        message=f"repeats row {earlier} ({why}); remove one of them or make them differ",
        display=desired.display,
    )


# --- comparing --------------------------------------------------------------------------


def _compare(
    desired: DesiredRow,
    entry: Mapping[str, Any],
    key: str,
    match: str,
    seen: str | None,
    tz: tzinfo,
) -> PlanItem:
    changes = tuple(diff_entry(desired, entry, tz))
    current = str((entry.get("_info") or {}).get("lastUpdated") or "") or None
    common = {
        "key": key,
        "entry_id": int(entry["id"]),
        "match": match,
        "last_updated": current,
        "changes": changes,
        "display": desired.display,
        "mobile_guid": str(entry.get("mobileGuid") or "") or None,
    }
    if not changes:
        return PlanItem(desired.sheet, desired.row, "unchanged", **common)
    status = str(entry.get("status") or "")
    if status in BILLED_STATUSES:
        # Billed time never changes again; a submitted or approved entry may, once its
        # sheet is reversed (or for a role allowed to), so ConnectWise answers for those.
        return PlanItem(
            desired.sheet,
            desired.row,
            "invalid",
            code="entry_billed",
            message=(
                f"entry {entry['id']} is {status}: billed time can't be changed; put the row "
                f"back as it was (it would change {', '.join(c.field for c in changes)}) or "
                "remove it"
            ),
            **common,
        )
    if desired.last_updated and not same_instant(desired.last_updated, current):
        return PlanItem(
            desired.sheet,
            desired.row,
            "conflict",
            code="changed_in_connectwise",
            message=(
                f"entry {entry['id']} changed in ConnectWise at {current} after the sheet's "
                f"lastUpdated {desired.last_updated}; export it again and redo the edit, or "
                "use --on-conflict overwrite"
            ),
            **common,
        )
    if seen is not None and not same_instant(seen, current):
        return PlanItem(
            desired.sheet,
            desired.row,
            "conflict",
            code="changed_since_plan",
            message=(
                f"entry {entry['id']} changed in ConnectWise at {current}, after the plan "
                "you saw; run --dry-run again to see the new plan, or use --on-conflict "
                "overwrite"
            ),
            **common,
        )
    return PlanItem(desired.sheet, desired.row, "update", **common)


def diff_entry(desired: DesiredRow, entry: Mapping[str, Any], tz: tzinfo) -> Iterable[FieldChange]:
    """The fields the row gives whose value differs from the entry, in a stable order."""
    shown = desired.display

    def ref(name: str, wanted: int | None, label: str = "name") -> Iterable[FieldChange]:
        if wanted is not None and _ref_id(entry, name) != wanted:
            before = str((entry.get(name) or {}).get(label) or _ref_id(entry, name) or "")
            yield FieldChange(name, before, shown.get(name, str(wanted)), {"id": wanted})

    yield from ref("member", desired.member_id, "identifier")
    yield from ref("company", desired.company_id, "identifier")
    charge_to = (desired.charge_to_type, _desired_charge_to_id(desired))
    if charge_to != (entry.get("chargeToType"), _charge_to_id(entry)):
        before = f"{entry.get('chargeToType') or ''} {entry.get('chargeToId') or ''}".strip()
        after = f"{desired.charge_to_type} {shown.get('chargeTo', '')}".strip()
        yield FieldChange("chargeToType", before, after, desired.charge_to_type)
        if desired.charge_to_id is not None:
            yield FieldChange("chargeToId", before, after, desired.charge_to_id)
    if desired.start_given and not same_instant(desired.time_start, entry.get("timeStart")):
        yield _time_change("timeStart", entry.get("timeStart"), desired.time_start, tz)
    if desired.time_end is not None and not same_instant(desired.time_end, entry.get("timeEnd")):
        yield _time_change("timeEnd", entry.get("timeEnd"), desired.time_end, tz)
    hours = round(desired.actual_hours, 2)
    if desired.hours_given and round(float(entry.get("actualHours") or 0.0), 2) != hours:
        yield FieldChange("actualHours", _num(entry.get("actualHours")), _num(hours), hours)
    if desired.hours_deduct is not None:
        deduct = round(desired.hours_deduct, 2)
        if round(float(entry.get("hoursDeduct") or 0.0), 2) != deduct:
            yield FieldChange("hoursDeduct", _num(entry.get("hoursDeduct")), _num(deduct), deduct)
    yield from ref("workType", desired.work_type_id)
    yield from ref("workRole", desired.work_role_id)
    for name, wanted in (
        ("billableOption", desired.billable_option),
        ("notes", desired.notes),
        ("internalNotes", desired.internal_notes),
    ):
        if wanted is not None and _text(entry.get(name)) != _text(wanted):
            yield FieldChange(name, str(entry.get(name) or ""), wanted, wanted)


def _time_change(name: str, before: Any, after: str, tz: tzinfo) -> FieldChange:
    def show(value: Any) -> str:
        day, clock = local_date_time(str(value or ""), tz)
        return f"{day} {clock}".strip()

    return FieldChange(name, show(before), show(after), after)


def _text(value: Any) -> str:
    return "\n".join(line.rstrip() for line in str(value or "").replace("\r\n", "\n").split("\n"))


def _num(value: Any) -> str:
    return "" if value is None else f"{float(value):g}"


def _ref(ref_id: int | None) -> dict[str, int] | None:
    return None if ref_id is None else {"id": ref_id}


def _ref_id(entry: Mapping[str, Any], name: str) -> int | None:
    ref = entry.get(name)
    if isinstance(ref, Mapping) and ref.get("id") is not None:
        return int(ref["id"])
    return None


def _charge_to_id(entry: Mapping[str, Any]) -> int | None:
    if entry.get("chargeToId") is not None:
        return int(entry["chargeToId"])
    # Company time may leave chargeToId out: the company is what it is charged to.
    return _ref_id(entry, "company") if entry.get("chargeToType") == "Company" else None


def _desired_charge_to_id(desired: DesiredRow) -> int | None:
    if desired.charge_to_id is None and desired.charge_to_type == "Company":
        return desired.company_id
    return desired.charge_to_id


def format_cw_datetime(moment: datetime) -> str:
    """A datetime as ConnectWise writes it: UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime(CW_DATETIME)
