"""The sandbox's ConnectWise: records kept as JSON in SQLite, and the rules applied to them.

Every API resource has a table ``(id, body)`` whose body is the record exactly as the API
returns it (null fields omitted), so a list answer is the bodies joined into an array.
Time entries and time sheets add generated columns (member, start, mobileGuid, charge,
sheet, status) with indexes for the lookups clients make most. Boards, ticket statuses,
projects and phases, which the API subset does not list, live in small internal tables.

References inside a body carry ``_info`` hrefs that begin with :data:`HREF_BASE`; the app
replaces it with the base URL of each request. The business rules (what ConnectWise
accepts, derives and locks) are here, in one place, and so is the field table that
``conditions``, ``orderBy``, ``fields`` and input validation all check against. Where
ConnectWise's behaviour is unknown, the choices made are listed in app.py's docstring.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from cwbulk.sandbox.conditions import ConditionError

SCHEMA_VERSION = 1
HREF_BASE = "{{cwbulk-sandbox-api}}"
API_MEMBER = "ApiMember"

EDITABLE = frozenset({"Open", "Rejected", "ErrorsCorrected", "RejectBySecondTier"})
LOCKED = frozenset(
    {"PendingApproval", "PendingProjectApproval", "ApprovedByTierOne", "ApprovedByTierTwo"}
    | {"ReadyToBill"}
)
BILLED = frozenset({"Billed", "BilledAgreement", "WrittenOff"})
BLOCKED_TICKET_MESSAGE = (
    "Please update the status of this ticket before entering time, "
    "the current status does not allow time entry."
)
MAX_ENTRY_HOURS = 24

_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- errors ----------------------------------------------------------------------------------


class ApiProblem(Exception):
    """An error answer: an HTTP status and ConnectWise's error body ``{code, message, errors}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"code": self.code, "message": self.message, "errors": self.errors}


def field_error(code: str, message: str, resource: str, field: str) -> dict[str, str]:
    """One entry of an error body's ``errors`` list."""
    return {"code": code, "message": message, "resource": resource, "field": field}


def invalid(resource: str, errors: list[dict[str, str]]) -> ApiProblem:
    """400 for a rejected body: ``UnsupportedFormat`` when only datetimes are wrong."""
    if all(e["code"] == "UnsupportedFormat" for e in errors):
        return ApiProblem(400, "UnsupportedFormat", errors[0]["message"], errors)
    return ApiProblem(400, "InvalidObject", f"{resource} object is invalid", errors)


def not_found(resource: str, record_id: object) -> ApiProblem:
    """404 for a record id that does not exist."""
    return ApiProblem(404, "NotFound", f"{resource} {record_id} not found")


def _has_error(errors: list[dict[str, str]], field: str) -> bool:
    return any(e["field"] == field for e in errors)


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the field table -------------------------------------------------------------------------
# Field names and types of each resource, as in the OpenAPI spec (cw-time-openapi.json,
# 2026.4); test_sandbox_openapi.py checks this table against the spec, field by field.
# Types: i int32, n number, s string, b boolean, dt date-time, uuid, map (a string map,
# like _info), [i and [s lists, ref a reference {id, name, _info}, a capitalised name one of
# the other reference shapes below, A|B an enum (@Name: a long one from _ENUMS), and -
# a nested object or list of objects the sandbox does not model (accepted and dropped).

_ENUMS = {
    "ChargeToType": "Company ServiceTicket ProjectTicket ChargeCode Activity",
    "Status": """
        Open Rejected PendingApproval ErrorsCorrected PendingProjectApproval ApprovedByTierOne
        RejectBySecondTier ApprovedByTierTwo ReadyToBill Billed WrittenOff BilledAgreement
        """,
    "InvoiceScreenDefaultTabFormat": "ShowInvoicingTab ShowAgreementInvoicingTab",
    "InvoicingDisplayOptions": "RemainOnInvoicingScreen ShowRecentInvoices",
    "GlobalSearchDefaultSort": "None LastUpdatedDesc LastUpdatedAsc CreatedDesc CreatedAsc",
    "BillingMethod": "ActualRates FixedFee NotToExceed OverrideRate",
    "KnowledgeBaseLinkType": """
        Activity ProjectIssue KnowledgeBaseArticle ProjectTicket ServiceTicket Time
        """,
}
_REFERENCE_SHAPES = {
    "Agreement": "id:i name:s type:s chargeFirmFlag:b _info:map",
    "Company": "id:i identifier:s name:s _info:map",
    "Country": "id:i identifier:s name:s _info:map",
    "Currency": """
        id:i symbol:s currencyCode:s decimalSeparator:s numberOfDecimals:i thousandsSeparator:s
        negativeParenthesesFlag:b displaySymbolFlag:b currencyIdentifier:s displayIdFlag:b
        rightAlign:b name:s _info:map
        """,
    "Invoice": """
        id:i identifier:s billingType:s applyToType:s invoiceDate:s chargeFirmFlag:b _info:map
        """,
    "LdapConfiguration": "id:i name:s server:s _info:map",
    "Member": "id:i identifier:s name:s dailyCapacity:n _info:map",
    "MemberSsoSettings": "id:i ssoUserId:s userName:s email:s _info:map",
    "Priority": "id:i name:s sort:i level:s _info:map",
    "ServiceStatus": "id:i name:s sort:i _info:map",
    "SystemDepartment": "id:i identifier:s name:s _info:map",
    "Ticket": "id:i summary:s _info:map",
    "Warehouse": "id:i name:s lockedFlag:b _info:map",
    "WorkType": "id:i name:s utilizationFlag:b _info:map",
}
_SPEC_FIELDS = {
    "TimeEntry": """
        id:i company:Company companyType:s chargeToId:i chargeToType:@ChargeToType member:Member
        locationId:i businessUnitId:i businessGroupDesc:s location:ref department:ref
        workType:WorkType workRole:ref agreement:Agreement agreementType:s activity:ref
        opportunityRecid:i projectActivity:s territory:s timeStart:dt timeEnd:dt hoursDeduct:n
        actualHours:n billableOption:Billable|DoNotBill|NoCharge|NoDefault notes:s internalNotes:s
        addToDetailDescriptionFlag:b addToInternalAnalysisFlag:b addToResolutionFlag:b
        emailResourceFlag:b emailContactFlag:b emailCcFlag:b emailCc:s hoursBilled:n invoiceHours:n
        hourlyCost:s enteredBy:s dateEntered:dt invoice:Invoice mobileGuid:uuid hourlyRate:n
        overageRate:n agreementHours:n agreementAmount:n agreementAdjustment:n adjustment:n
        invoiceReady:i timeSheet:ref status:@Status ticket:Ticket project:ref phase:ref
        ticketBoard:s ticketStatus:s ticketType:s ticketSubType:s invoiceFlag:b
        extendedInvoiceAmount:n locationName:s taxCode:ref _info:map customFields:-
        """,
    "TimeSheet": """
        id:i member:Member year:i period:i dateStart:s dateEnd:s status:@Status hours:n deadline:s
        _info:map
        """,
    "WorkType": """
        id:i name:s billTime:Billable|DoNotBill|NoCharge rateType:AdjAmount|Custom|Multiplier
        rate:n hoursMin:n hoursMax:n roundBillHoursTo:n accrualType:Holiday|PTO|Sick|Vacation
        inactiveFlag:b overallDefaultFlag:b activityDefaultFlag:b utilizationFlag:b
        costMultiplier:n integrationXRef:s addAllAgreementExclusions:b _info:map connectWiseId:s
        """,
    "WorkRole": """
        id:i name:s hourlyRate:n integrationXref:s inactiveFlag:b addAllLocations:b
        removeAllLocations:b addAllAgreementExclusions:b locationIds:[i _info:map connectWiseId:s
        """,
    "ChargeCode": """
        id:i name:s company:Company location:ref department:SystemDepartment
        billTime:Billable|DoNotBill|NoCharge|NoDefault expenseEntryFlag:b allowAllExpenseTypeFlag:b
        timeEntryFlag:b workType:WorkType workRole:ref integrationXref:s expenseTypeIds:[i
        _info:map connectWiseId:s
        """,
    "Company": """
        id:i identifier:s name:s status:ref addressLine1:s addressLine2:s city:s state:s zip:s
        country:Country phoneNumber:s faxNumber:s website:s territory:ref market:ref
        accountNumber:s defaultContact:ref dateAcquired:dt sicCode:ref parentCompany:Company
        annualRevenue:n creditLimit:n additionalDebt:n numberOfEmployees:i yearEstablished:i
        revenueYear:i ownershipType:ref timeZoneSetup:ref leadSource:s leadFlag:b unsubscribeFlag:b
        calendar:ref userDefinedField1:s userDefinedField2:s userDefinedField3:s
        userDefinedField4:s userDefinedField5:s userDefinedField6:s userDefinedField7:s
        userDefinedField8:s userDefinedField9:s userDefinedField10:s vendorIdentifier:s
        taxIdentifier:s taxCode:ref billingTerms:ref invoiceTemplate:ref pricingSchedule:ref
        companyEntityType:ref billToCompany:Company billingSite:ref billingContact:ref
        invoiceDeliveryMethod:ref emailTemplate:ref invoiceToEmailAddress:s invoiceCCEmailAddress:s
        deletedFlag:b dateDeleted:dt deletedBy:s mobileGuid:uuid facebookUrl:s twitterUrl:s
        linkedInUrl:s currency:Currency territoryManager:Member resellerIdentifier:s isVendorFlag:b
        types:- site:ref integratorTags:[s _info:map customFields:-
        """,
    "Member": """
        id:i identifier:s password:s disableOnlineFlag:b licenseClass:A|C|F|X notes:s
        employeeIdentifer:s vendorNumber:s enableMobileGpsFlag:b inactiveDate:dt inactiveFlag:b
        lastLogin:s clientId:s token:s firstName:s middleInitial:s lastName:s hireDate:dt
        country:Country photo:ref officeEmail:s mobileEmail:s homeEmail:s
        defaultEmail:Office|Mobile|Home primaryEmail:s officePhone:s officeExtension:s
        mobilePhone:s mobileExtension:s homePhone:s homeExtension:s defaultPhone:Office|Mobile|Home
        securityRole:ref office365:- mapiName:s calendarSyncIntegrationFlag:b
        authenticationServiceType:AuthAnvil|GoogleAuthenticator|Email
        timebasedOneTimePasswordActivated:b enableLdapAuthenticationFlag:b
        ldapConfiguration:LdapConfiguration ldapUserName:s directionalSync:ref
        ssoSettings:MemberSsoSettings signature:s phoneIntegrationType:TAPI|SKYPE|TEL|CALLTO|NONE
        useBrowserLanguageFlag:b title:s reportCard:ref enableMobileFlag:b type:ref timeZone:ref
        partnerPortalFlag:b stsUserAdminUrl:s toastNotificationFlag:b memberPersonas:[i adminFlag:b
        structureLevel:ref securityLocation:ref defaultLocation:ref
        defaultDepartment:SystemDepartment reportsTo:Member restrictLocationFlag:b
        restrictDepartmentFlag:b workRole:ref workType:WorkType timeApprover:Member
        expenseApprover:Member billableForecast:n dailyCapacity:n hourlyCost:n hourlyRate:n
        includeInUtilizationReportingFlag:b requireExpenseEntryFlag:b requireTimeSheetEntryFlag:b
        requireStartAndEndTimeOnTimeEntryFlag:b allowInCellEntryOnTimeSheet:b
        enterTimeAgainstCompanyFlag:b allowExpensesEnteredAgainstCompaniesFlag:b
        timeReminderEmailFlag:b daysTolerance:i minimumHours:n timeSheetStartDate:s
        serviceDefaultLocation:ref serviceDefaultDepartment:SystemDepartment
        serviceDefaultBoard:ref restrictServiceDefaultLocationFlag:b
        restrictServiceDefaultDepartmentFlag:b excludedServiceBoardIds:[i teams:[i
        serviceBoardTeamIds:[i projectDefaultLocation:ref projectDefaultDepartment:SystemDepartment
        projectDefaultBoard:ref restrictProjectDefaultLocationFlag:b
        restrictProjectDefaultDepartmentFlag:b excludedProjectBoardIds:[i
        scheduleDefaultLocation:ref scheduleDefaultDepartment:SystemDepartment scheduleCapacity:n
        serviceLocation:ref restrictScheduleFlag:b hideMemberInDispatchPortalFlag:b calendar:ref
        salesDefaultLocation:ref restrictDefaultSalesTerritoryFlag:b warehouse:Warehouse
        warehouseBin:ref restrictDefaultWarehouseFlag:b restrictDefaultWarehouseBinFlag:b
        companyActivityTabFormat:SummaryList|DetailList invoiceTimeTabFormat:SummaryList|DetailList
        invoiceScreenDefaultTabFormat:@InvoiceScreenDefaultTabFormat
        invoicingDisplayOptions:@InvoicingDisplayOptions
        agreementInvoicingDisplayOptions:@InvoicingDisplayOptions autoStartStopwatch:b
        autoPopupQuickNotesWithStopwatch:b
        globalSearchDefaultTicketFilter:OpenRecords|ClosedRecords|AllRecords
        globalSearchDefaultSort:@GlobalSearchDefaultSort phoneSource:s _info:map copyPodLayouts:b
        copySharedDefaultViews:b copyColumnLayoutsAndFilters:b fromMemberRecId:i
        fromMemberTemplateRecId:i customFields:-
        """,
    "Ticket": """
        id:i summary:s recordType:ProjectIssue|ProjectTicket|ServiceTicket board:ref
        status:ServiceStatus workRole:ref workType:WorkType company:Company site:ref siteName:s
        addressLine1:s addressLine2:s city:s stateIdentifier:s zip:s country:Country contact:ref
        contactName:s contactPhoneNumber:s contactPhoneExtension:s contactEmailAddress:s type:ref
        subType:ref item:ref team:ref owner:Member priority:Priority serviceLocation:ref source:ref
        requiredDate:dt budgetHours:n opportunity:ref agreement:Agreement agreementType:s
        severity:Low|Medium|High impact:Low|Medium|High externalXRef:s poNumber:s
        knowledgeBaseCategoryId:i knowledgeBaseSubCategoryId:i allowAllClientsPortalView:b
        customerUpdatedFlag:b automaticEmailContactFlag:b automaticEmailResourceFlag:b
        automaticEmailCcFlag:b automaticEmailCc:s initialDescription:s initialInternalAnalysis:s
        initialResolution:s initialDescriptionFrom:s contactEmailLookup:s processNotifications:b
        skipCallback:b closedDate:s closedBy:s closedFlag:b actualHours:n approved:b
        estimatedExpenseCost:n estimatedExpenseRevenue:n estimatedProductCost:n
        estimatedProductRevenue:n estimatedTimeCost:n estimatedTimeRevenue:n
        billingMethod:@BillingMethod billingAmount:n hourlyRate:n subBillingMethod:@BillingMethod
        subBillingAmount:n subDateAccepted:s dateResolved:s dateResplan:s dateResponded:s
        resolveMinutes:i resPlanMinutes:i respondMinutes:i respondByGoalUTC:dt resplanGoalUTC:dt
        resolutionGoalUTC:dt escalationLastUpdateMinutes:i isInSla:b knowledgeBaseLinkId:i
        resources:s parentTicketId:i hasChildTicket:b hasMergedChildTicketFlag:b
        knowledgeBaseLinkType:@KnowledgeBaseLinkType billTime:Billable|DoNotBill|NoCharge|NoDefault
        billExpenses:Billable|DoNotBill|NoCharge|NoDefault
        billProducts:Billable|DoNotBill|NoCharge|NoDefault predecessorType:Ticket|Phase
        predecessorId:i predecessorClosedFlag:b lagDays:i lagNonworkingDaysFlag:b
        estimatedStartDate:dt duration:i location:ref department:SystemDepartment mobileGuid:uuid
        sla:ref slaStatus:s requestForChangeFlag:b currency:Currency mergedParentTicket:Ticket
        integratorTags:[s _info:map escalationStartDateUTC:s escalationLevel:i
        minutesBeforeWaiting:i respondedSkippedMinutes:i resplanSkippedMinutes:i respondedHours:n
        respondedBy:s resplanHours:n resplanBy:s resolutionHours:n resolvedBy:s minutesWaiting:i
        customFields:-
        """,
    "ProjectTicket": """
        id:i summary:s isIssueFlag:b board:ref status:ServiceStatus workRole:ref workType:WorkType
        project:ref phase:ref wbsCode:s company:Company site:ref siteName:s addressLine1:s
        addressLine2:s city:s stateIdentifier:s zip:s country:Country contact:ref contactName:s
        contactPhoneNumber:s contactPhoneExtension:s contactEmailAddress:s type:ref subType:ref
        item:ref owner:Member priority:Priority serviceLocation:ref source:ref requiredDate:dt
        budgetHours:n opportunity:ref agreement:Agreement agreementType:s knowledgeBaseCategoryId:i
        knowledgeBaseSubCategoryId:i knowledgeBaseLinkId:i
        knowledgeBaseLinkType:@KnowledgeBaseLinkType allowAllClientsPortalView:b
        customerUpdatedFlag:b automaticEmailContactFlag:b automaticEmailResourceFlag:b
        automaticEmailCcFlag:b automaticEmailCc:s closedDate:s closedBy:s closedFlag:b
        actualHours:n approved:b subBillingMethod:@BillingMethod subBillingAmount:n
        subDateAccepted:s resources:s billTime:Billable|DoNotBill|NoCharge|NoDefault
        billExpenses:Billable|DoNotBill|NoCharge|NoDefault
        billProducts:Billable|DoNotBill|NoCharge|NoDefault predecessorType:Ticket|Phase
        predecessorId:i predecessorClosedFlag:b lagDays:i lagNonworkingDaysFlag:b
        estimatedStartDate:dt location:ref department:SystemDepartment duration:i
        scheduleStartDate:dt scheduleEndDate:dt mobileGuid:uuid currency:Currency _info:map tasks:-
        initialDescription:s initialInternalAnalysis:s initialResolution:s contactEmailLookup:s
        processNotifications:b skipCallback:b customFields:-
        """,
}


@dataclass(frozen=True)
class FieldType:
    """The type of one field: a kind, plus enum values or a reference shape."""

    kind: str
    values: tuple[str, ...] = ()
    shape: str = ""


_SCALARS = frozenset({"i", "n", "s", "b", "dt", "uuid", "map", "[i", "[s", "-"})


def _field_type(token: str) -> FieldType:
    if token in _SCALARS:
        return FieldType(token)
    if token.startswith("@"):
        return FieldType("enum", tuple(_ENUMS[token[1:]].split()))
    if "|" in token:
        return FieldType("enum", tuple(token.split("|")))
    if token == "ref" or token in _REFERENCE_SHAPES:
        return FieldType("ref", shape=token)
    raise ValueError(f"unknown field type {token!r}")


def _field_table(text: str) -> dict[str, FieldType]:
    pairs = (item.split(":", 1) for item in text.split())
    return {name: _field_type(token) for name, token in pairs}


REFERENCE_SHAPES: dict[str, dict[str, FieldType]] = {
    "ref": _field_table("id:i name:s _info:map"),
    **{name: _field_table(text) for name, text in _REFERENCE_SHAPES.items()},
}
SPEC_FIELDS: dict[str, dict[str, FieldType]] = {
    schema: _field_table(text) for schema, text in _SPEC_FIELDS.items()
}
# On a record, `lastUpdated` and friends name the keys of its _info block.
_INFO_KEYS = {key.lower(): key for key in ("lastUpdated", "updatedBy", "dateEntered", "enteredBy")}


# --- resources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One API resource: its table, path, spec schema and the rules for creating one."""

    key: str
    table: str
    path: str
    schema: str
    required: tuple[str, ...] = ()
    unique: str | None = None
    lookups: tuple[tuple[str, str], ...] = ()
    columns: tuple[tuple[str, str, str], ...] = ()

    @property
    def fields(self) -> dict[str, FieldType]:
        """Field name → type, in the spec's order."""
        return SPEC_FIELDS[self.schema]

    @property
    def lower_names(self) -> dict[str, str]:
        """Lower-cased field name → field name."""
        return _lower_names(self.schema)

    @property
    def column_of(self) -> dict[tuple[str, ...], str]:
        """Field path → the generated column that holds it."""
        return {tuple(path.split("/")): column for column, path, _ in self.columns}


@lru_cache
def _lower_names(schema: str) -> dict[str, str]:
    return {name.lower(): name for name in SPEC_FIELDS[schema]}


_FULL_NAME = "json_extract(body, '$.firstName') || ' ' || json_extract(body, '$.lastName')"

RESOURCES: dict[str, Resource] = {
    r.key: r
    for r in (
        Resource(
            "timeEntry",
            "time_entries",
            "time/entries",
            "TimeEntry",
            required=("timeStart",),
            columns=(
                ("member_id", "member/id", "INTEGER"),
                ("time_start", "timeStart", "TEXT"),
                ("mobile_guid", "mobileGuid", "TEXT"),
                ("charge_to_type", "chargeToType", "TEXT"),
                ("charge_to_id", "chargeToId", "INTEGER"),
                ("sheet_id", "timeSheet/id", "INTEGER"),
                ("status", "status", "TEXT"),
            ),
        ),
        Resource(
            "timeSheet",
            "time_sheets",
            "time/sheets",
            "TimeSheet",
            columns=(
                ("member_id", "member/id", "INTEGER"),
                ("date_start", "dateStart", "TEXT"),
                ("status", "status", "TEXT"),
            ),
        ),
        Resource(
            "workType",
            "work_types",
            "time/workTypes",
            "WorkType",
            required=("name", "billTime", "rateType", "rate"),
            unique="name",
            lookups=(("name", "json_extract(body, '$.name')"),),
        ),
        Resource(
            "workRole",
            "work_roles",
            "time/workRoles",
            "WorkRole",
            required=("name",),
            unique="name",
            lookups=(("name", "json_extract(body, '$.name')"),),
        ),
        Resource(
            "chargeCode",
            "charge_codes",
            "time/chargeCodes",
            "ChargeCode",
            required=("name", "company"),
            unique="name",
            lookups=(("name", "json_extract(body, '$.name')"),),
        ),
        Resource(
            "member",
            "members",
            "system/members",
            "Member",
            required=(
                "identifier",
                "licenseClass",
                "firstName",
                "lastName",
                "hireDate",
                "defaultEmail",
                "defaultPhone",
                "securityRole",
            ),
            unique="identifier",
            lookups=(
                ("identifier", "json_extract(body, '$.identifier')"),
                ("name", _FULL_NAME),
            ),
        ),
        Resource(
            "company",
            "companies",
            "company/companies",
            "Company",
            required=("identifier", "name"),
            unique="identifier",
            lookups=(
                ("identifier", "json_extract(body, '$.identifier')"),
                ("name", "json_extract(body, '$.name')"),
            ),
        ),
        Resource(
            "serviceTicket",
            "service_tickets",
            "service/tickets",
            "Ticket",
            required=("summary", "company"),
        ),
        Resource(
            "projectTicket",
            "project_tickets",
            "project/tickets",
            "ProjectTicket",
            required=("summary", "phase"),
        ),
    )
}
TIME_ENTRY = RESOURCES["timeEntry"]
TIME_SHEET = RESOURCES["timeSheet"]
TICKETS = {"ServiceTicket": RESOURCES["serviceTicket"], "ProjectTicket": RESOURCES["projectTicket"]}

# Fields of a time entry that ConnectWise sets; a PATCH may not touch them.
ENTRY_READ_ONLY = frozenset(
    {"id", "status", "timeSheet", "enteredBy", "dateEntered", "_info", "ticket", "project"}
    | {"phase", "ticketBoard", "ticketStatus", "hoursBilled", "invoiceHours", "invoice"}
    | {"extendedInvoiceAmount", "companyType", "businessGroupDesc", "locationName"}
)


# --- paths: conditions, orderBy, fields ---------------------------------------------------


class UnknownField(ValueError):
    """A field path that the resource does not have."""


def canonical_path(resource: Resource, path: str) -> tuple[str, ...]:
    """``"Member/Identifier"`` → ``("member", "identifier")``; :class:`UnknownField` if none.

    Names match without regard to case; ``lastUpdated``, ``updatedBy``, ``dateEntered``
    and ``enteredBy`` on a resource that has no such field mean its ``_info`` keys.
    """
    parts = path.split("/")
    if not all(_NAME.fullmatch(p) for p in parts):
        raise UnknownField(f"{path!r} is not a field path (names joined by '/')")
    first = resource.lower_names.get(parts[0].lower())
    if first is None:
        if len(parts) == 1 and parts[0].lower() in _INFO_KEYS:
            return ("_info", _INFO_KEYS[parts[0].lower()])
        raise UnknownField(f"{resource.key} has no field {parts[0]!r}")
    found = [first]
    kind = resource.fields[first]
    for part in parts[1:]:
        if kind.kind == "map":
            found.append(_INFO_KEYS.get(part.lower(), part))
            kind = FieldType("s")
        elif kind.kind == "ref":
            shape = REFERENCE_SHAPES[kind.shape]
            name = next((n for n in shape if n.lower() == part.lower()), None)
            if name is None:
                raise UnknownField(f"{'/'.join(found)} has no field {part!r}")
            found.append(name)
            kind = shape[name]
        else:
            raise UnknownField(f"{'/'.join(found)} is not an object, so it has no {part!r}")
    return tuple(found)


def path_type(resource: Resource, parts: tuple[str, ...]) -> FieldType:
    """The type of the field at a canonical path."""
    kind = resource.fields[parts[0]]
    for part in parts[1:]:
        kind = REFERENCE_SHAPES[kind.shape][part] if kind.kind == "ref" else FieldType("s")
    return kind


@lru_cache(maxsize=1024)
def column_sql(resource_key: str, path: str) -> str:
    """The SQL expression for a field path in ``conditions`` or ``orderBy``.

    Raises :class:`ConditionError` for an unknown field, or one that is an object or list.
    """
    resource = RESOURCES[resource_key]
    try:
        parts = canonical_path(resource, path)
    except UnknownField as exc:
        raise ConditionError(str(exc)) from exc
    kind = path_type(resource, parts).kind
    if kind in ("ref", "map"):
        example = "id" if kind == "ref" else "lastUpdated"
        raise ConditionError(
            f"{'/'.join(parts)} is an object: compare one of its fields, e.g. "
            f"{'/'.join(parts)}/{example}"
        )
    if kind in ("[i", "[s", "-"):
        raise ConditionError(f"{'/'.join(parts)} is a list and can't be compared")
    if parts == ("id",):
        return "id"
    column = resource.column_of.get(parts)
    return column or f"json_extract(body, '$.{'.'.join(parts)}')"


# --- values: checking input against the field table ---------------------------------------


class _BadValue(ValueError):
    def __init__(self, message: str, code: str = "InvalidField") -> None:
        super().__init__(message)
        self.code = code


_DROP = object()


def parse_datetime(text: str) -> datetime:
    """A ``YYYY-MM-DDTHH:MM:SSZ`` text as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def format_datetime(moment: datetime) -> str:
    """An aware datetime as ConnectWise's ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _valid_datetime(text: str) -> bool:
    if not _DATETIME.fullmatch(text):
        return False
    try:
        parse_datetime(text)
    except ValueError:
        return False
    return True


def _coerce(kind: FieldType, value: object, label: str) -> object:
    k = kind.kind
    if k == "-":
        return _DROP
    if k == "i":
        if type(value) is int and -(2**31) <= value < 2**31:
            return value
        raise _BadValue(f"{label} must be a whole number, not {_show(value)}")
    if k == "n":
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return value
        raise _BadValue(f"{label} must be a number, not {_show(value)}")
    if k == "s":
        if isinstance(value, str):
            return value
        raise _BadValue(f"{label} must be a string, not {_show(value)}")
    if k == "b":
        if isinstance(value, bool):
            return value
        raise _BadValue(f"{label} must be true or false, not {_show(value)}")
    if k == "dt":
        if isinstance(value, str) and _valid_datetime(value):
            return value
        raise _BadValue(
            f"{label} {_show(value)} is not in a supported format: use yyyy-MM-ddTHH:mm:ssZ"
            " in UTC, e.g. 2024-05-06T09:00:00Z",
            "UnsupportedFormat",
        )
    if k == "uuid":
        if isinstance(value, str) and _UUID.fullmatch(value):
            return value.lower()
        raise _BadValue(f"{label} must be a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e")
    if k == "enum":
        if isinstance(value, str):
            match = next((v for v in kind.values if v.lower() == value.lower()), None)
            if match is not None:
                return match
        raise _BadValue(f"{label} {_show(value)} is not one of {', '.join(kind.values)}")
    if k == "map":
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value
        raise _BadValue(f"{label} must be an object of strings")
    if k in ("[i", "[s"):
        item = FieldType(k[1])
        if isinstance(value, list):
            return [_coerce(item, v, f"{label} item") for v in value]
        raise _BadValue(f"{label} must be a list, not {_show(value)}")
    if not isinstance(value, dict):
        raise _BadValue(f'{label} must be an object such as {{"id": 12}}, not {_show(value)}')
    shape = REFERENCE_SHAPES[kind.shape]
    names = {n.lower(): n for n in shape if n != "_info"}
    out = {}
    for key, sub in value.items():
        name = names.get(key.lower())
        if name is not None and sub is not None:
            out[name] = _coerce(shape[name], sub, f"{label}/{name}")
    return out


def typed_fields(resource: Resource, raw: dict[str, Any], errors: list[dict[str, str]]) -> dict:
    """The body's known, non-null fields with checked types; one error per bad value.

    Names match without regard to case; unknown fields, nulls, ``_info`` and nested objects
    the sandbox does not model are dropped.
    """
    out: dict[str, Any] = {}
    names = resource.lower_names
    for key, value in raw.items():
        name = names.get(key.lower())
        if name is None or name == "_info" or value is None:
            continue
        try:
            checked = _coerce(resource.fields[name], value, name)
        except _BadValue as exc:
            errors.append(field_error(exc.code, str(exc), resource.key, name))
            continue
        if checked is not _DROP:
            out[name] = checked
    return out


def ordered(resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
    """The body with its fields in the spec's order and nulls left out."""
    return {name: body[name] for name in resource.fields if body.get(name) is not None}


# --- bodies: references, time entries, time sheets ------------------------------------------


def href(path: str) -> str:
    """An ``_info`` href to an API path, e.g. ``href("system/members/5")``."""
    return f"{HREF_BASE}/{path}"


def reference(key: str, body: dict[str, Any]) -> dict[str, Any]:
    """The reference a record is embedded as in other records, e.g. a time entry's member."""
    record_id = body["id"]
    if key == "member":
        ref = {
            "id": record_id,
            "identifier": body["identifier"],
            "name": f"{body.get('firstName', '')} {body.get('lastName', '')}".strip(),
            "dailyCapacity": body.get("dailyCapacity"),
        }
    elif key == "company":
        ref = {"id": record_id, "identifier": body["identifier"], "name": body["name"]}
    elif key == "workType":
        ref = {
            "id": record_id,
            "name": body["name"],
            "utilizationFlag": body.get("utilizationFlag"),
        }
    elif key == "timeSheet":
        ref = {"id": record_id, "name": f"{body['dateStart'][:10]} to {body['dateEnd'][:10]}"}
    elif key in ("serviceTicket", "projectTicket"):
        # ConnectWise links project tickets through /service/tickets too.
        ref = {"id": record_id, "summary": body["summary"]}
        ref["_info"] = {"ticket_href": href(f"service/tickets/{record_id}")}
        return ref
    else:
        ref = {"id": record_id, "name": body["name"]}
    ref = {k: v for k, v in ref.items() if v is not None}
    ref["_info"] = {f"{key}_href": href(f"{RESOURCES[key].path}/{record_id}")}
    return ref


def record_info(updated: str, by: str, entered: str | None = None, entered_by: str = "") -> dict:
    """The ``_info`` block of a record."""
    info = {"lastUpdated": updated, "updatedBy": by}
    if entered is not None:
        info |= {"dateEntered": entered, "enteredBy": entered_by or by}
    return info


@dataclass(frozen=True)
class Charge:
    """What a time entry is charged to, resolved: a ticket, a charge code or a company."""

    type: str
    id: int
    company: dict[str, Any]
    ticket: dict[str, Any] | None = None
    charge_code: dict[str, Any] | None = None


_ENTRY_INPUTS = (
    "locationId",
    "businessUnitId",
    "notes",
    "internalNotes",
    "addToDetailDescriptionFlag",
    "addToInternalAnalysisFlag",
    "addToResolutionFlag",
    "emailResourceFlag",
    "emailContactFlag",
    "emailCcFlag",
    "emailCc",
    "mobileGuid",
)
_FLAGS = _ENTRY_INPUTS[4:10]


def build_time_entry(
    *,
    entry_id: int,
    inputs: dict[str, Any],
    member: dict[str, Any],
    charge: Charge,
    work_type: dict[str, Any],
    work_role: dict[str, Any],
    start: str,
    end: str,
    deduct: float,
    hours: float,
    billable: str,
    sheet: dict[str, Any],
    status: str,
    hourly_rate: float | None,
    entered: tuple[str, str],
    updated: tuple[str, str],
) -> dict[str, Any]:
    """A time entry's body from its resolved parts (the one place its shape is decided).

    ``inputs`` holds the plain fields the client sent (notes, flags, mobileGuid …);
    ``entered`` and ``updated`` are (when, by whom).
    """
    billed = hours if billable == "Billable" else 0.0
    ticket = charge.ticket
    body: dict[str, Any] = {
        "id": entry_id,
        "company": reference("company", charge.company),
        "chargeToId": charge.id,
        "chargeToType": charge.type,
        "member": reference("member", member),
        "workType": reference("workType", work_type),
        "workRole": reference("workRole", work_role),
        "timeStart": start,
        "timeEnd": end,
        "hoursDeduct": deduct,
        "actualHours": hours,
        "billableOption": billable,
        "hoursBilled": billed,
        "invoiceHours": billed,
        "enteredBy": entered[1],
        "dateEntered": entered[0],
        "hourlyRate": hourly_rate,
        "timeSheet": reference("timeSheet", sheet),
        "status": status,
        "extendedInvoiceAmount": None if hourly_rate is None else round(billed * hourly_rate, 2),
        "_info": record_info(*updated),
    }
    body |= {name: inputs.get(name) for name in _ENTRY_INPUTS}
    for flag in _FLAGS:
        body[flag] = bool(inputs.get(flag, False))
    if ticket is not None:
        kind = "serviceTicket" if charge.type == "ServiceTicket" else "projectTicket"
        body["ticket"] = reference(kind, ticket)
        body["project"] = ticket.get("project")
        body["phase"] = ticket.get("phase")
        body["ticketBoard"] = ticket.get("board", {}).get("name")
        body["ticketStatus"] = ticket.get("status", {}).get("name")
    return ordered(TIME_ENTRY, body)


def build_time_sheet(
    *,
    sheet_id: int,
    member: dict[str, Any],
    monday: date,
    status: str,
    hours: float,
    updated: tuple[str, str],
) -> dict[str, Any]:
    """A weekly (Monday–Sunday) time sheet's body."""
    sunday = monday + timedelta(days=6)
    year, week, _ = monday.isocalendar()
    return {
        "id": sheet_id,
        "member": reference("member", member),
        "year": year,
        "period": week,
        "dateStart": f"{monday.isoformat()}T00:00:00Z",
        "dateEnd": f"{sunday.isoformat()}T00:00:00Z",
        "status": status,
        "hours": round(hours, 2),
        "deadline": f"{(sunday + timedelta(days=2)).isoformat()}T00:00:00Z",
        "_info": record_info(*updated),
    }


def entry_times(
    data: dict[str, Any], given: set[str], errors: list[dict[str, str]]
) -> tuple[str, str, float, float] | None:
    """(timeStart, timeEnd, hoursDeduct, actualHours) from what the body gives.

    ``timeEnd`` wins when it was sent (or ``actualHours`` was not): hours are then
    ``end − start − deduct``, rounded to 0.01. Otherwise ``timeEnd`` is derived from
    ``actualHours + deduct``. ``given`` holds the fields this request set.
    """
    if "timeStart" not in data:
        return None
    resource = TIME_ENTRY.key
    start = parse_datetime(data["timeStart"])
    deduct = float(data.get("hoursDeduct", 0.0))
    if deduct < 0:
        errors.append(
            field_error("InvalidField", "hoursDeduct can't be negative", resource, "hoursDeduct")
        )
        return None
    if "timeEnd" in data and ("timeEnd" in given or "actualHours" not in given):
        end = parse_datetime(data["timeEnd"])
        if end <= start:
            message = f"timeEnd {data['timeEnd']} must be after timeStart {data['timeStart']}"
            errors.append(field_error("InvalidField", message, resource, "timeEnd"))
            return None
        hours = round((end - start).total_seconds() / 3600 - deduct, 2)
        if hours < 0:
            message = (
                f"hoursDeduct {deduct:g} is more than the {(end - start).total_seconds() / 3600:g}"
                " hours between timeStart and timeEnd"
            )
            errors.append(field_error("InvalidField", message, resource, "hoursDeduct"))
            return None
    elif "actualHours" in data:
        hours = round(float(data["actualHours"]), 2)
        if hours < 0 or hours + deduct <= 0:
            message = f"actualHours must be more than 0, not {data['actualHours']}"
            errors.append(field_error("InvalidField", message, resource, "actualHours"))
            return None
        # Capped before the date arithmetic: millions of hours would overflow the date.
        span = min(hours + deduct, MAX_ENTRY_HOURS + 1)
        end = start + timedelta(seconds=round(span * 3600))
    else:
        message = "timeEnd or actualHours is required: when the work ended, or how long it took"
        errors.append(field_error("MissingRequiredField", message, resource, "timeEnd"))
        return None
    if end - start > timedelta(hours=MAX_ENTRY_HOURS):
        message = f"a time entry can't span more than {MAX_ENTRY_HOURS} hours"
        errors.append(field_error("InvalidField", message, resource, "timeEnd"))
        return None
    return data["timeStart"], format_datetime(end), deduct, hours


# --- the store -------------------------------------------------------------------------------


def _schema_statements() -> list[str]:
    statements = []
    for res in RESOURCES.values():
        generated = "".join(
            f", {column} {affinity} GENERATED ALWAYS AS "
            f"(json_extract(body, '$.{path.replace('/', '.')}')) VIRTUAL"
            for column, path, affinity in res.columns
        )
        statements.append(
            f"CREATE TABLE {res.table} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            f"body TEXT NOT NULL{generated})"
        )
    statements += [
        "CREATE INDEX time_entries_member ON time_entries (member_id, time_start)",
        "CREATE INDEX time_entries_start ON time_entries (time_start)",
        "CREATE INDEX time_entries_guid ON time_entries (mobile_guid COLLATE NOCASE)",
        "CREATE INDEX time_entries_charge ON time_entries (charge_to_id, charge_to_type)",
        "CREATE INDEX time_entries_sheet ON time_entries (sheet_id)",
        "CREATE UNIQUE INDEX time_sheets_week ON time_sheets (member_id, date_start)",
        "CREATE TABLE boards (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL)",
        "CREATE TABLE statuses (id INTEGER PRIMARY KEY, board_id INTEGER NOT NULL, "
        "name TEXT NOT NULL, sort INTEGER NOT NULL, closed INTEGER NOT NULL, "
        "no_time INTEGER NOT NULL)",
        "CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "company_id INTEGER NOT NULL, board_id INTEGER NOT NULL)",
        "CREATE TABLE phases (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, "
        "name TEXT NOT NULL)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]
    return statements


def dumps(body: object) -> str:
    """Compact JSON, as stored and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The sandbox database: one SQLite file in WAL mode, safe to share between threads.

    Several processes may open the same file (a served sandbox and in-process commands);
    every write is one ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.RLock()
        # The ids matching the last listed query, so that page 2..n of a listing don't each
        # scan and sort every match again; stamped with this connection's writes and
        # SQLite's data_version (which moves when another process writes the file).
        self._writes = 0
        self._listing: tuple[tuple[object, ...], tuple[int, int], list[int]] | None = None
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError(f"the sandbox database {self.path} is closed")
        return self._db

    @property
    def version(self) -> int:
        """The schema version stored in the file (0 for a new, empty file)."""
        with self._lock:
            return self.db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back if the block raises."""
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._writes += 1

    def rebuild(self, db: sqlite3.Connection) -> None:
        """Drop every table and create the empty schema (inside a write transaction)."""
        tables = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for (name,) in tables:
            db.execute(f"DROP TABLE {name}")
        for statement in _schema_statements():
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def meta(self, key: str) -> str | None:
        """A value from the meta table (e.g. ``seeded_for``)."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def checkpoint(self) -> None:
        """Fold the WAL into the main file, so that the file alone is a full copy."""
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- reading ------------------------------------------------------------------------

    def fetch(self, resource: Resource, record_id: int) -> dict[str, Any] | None:
        """One record, or None."""
        text = self.fetch_text(resource, record_id)
        return None if text is None else json.loads(text)

    def fetch_text(self, resource: Resource, record_id: int) -> str | None:
        """One record's stored JSON, or None."""
        with self._lock:
            row = self.db.execute(
                f"SELECT body FROM {resource.table} WHERE id = ?", (record_id,)
            ).fetchone()
        return None if row is None else row[0]

    def rows(
        self,
        resource: Resource,
        where: str = "1",
        params: tuple[object, ...] = (),
        order: str = "id",
        limit: int = -1,
        offset: int = 0,
    ) -> list[tuple[int, str]]:
        """``(id, body)`` of the records matching an SQL condition, in ``order``."""
        sql = (
            f"SELECT id, body FROM {resource.table} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        with self._lock:
            return self.db.execute(sql, (*params, limit, offset)).fetchall()

    def page(
        self,
        resource: Resource,
        where: str,
        params: tuple[object, ...],
        order: str,
        limit: int,
        offset: int,
    ) -> tuple[int, list[tuple[int, str]]]:
        """How many records match, and ``(id, body)`` of one page of them in ``order``."""
        key = (resource.table, where, params, order)
        with self._lock:
            stamp = (self._writes, self.db.execute("PRAGMA data_version").fetchone()[0])
            if self._listing is None or self._listing[:2] != (key, stamp):
                sql = f"SELECT id FROM {resource.table} WHERE {where} ORDER BY {order}"
                ids = [row[0] for row in self.db.execute(sql, params)]
                self._listing = (key, stamp, ids)
            ids = self._listing[2]
            wanted = ids[offset : offset + limit]
            bodies = dict(
                self.db.execute(
                    f"SELECT id, body FROM {resource.table} "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            )
        return len(ids), [(i, bodies[i]) for i in wanted if i in bodies]

    def count(self, resource: Resource, where: str = "1", params: tuple[object, ...] = ()) -> int:
        """How many records match an SQL condition."""
        with self._lock:
            sql = f"SELECT count(*) FROM {resource.table} WHERE {where}"
            return self.db.execute(sql, params).fetchone()[0]

    def board_statuses(self, board_id: int) -> list[dict[str, Any]] | None:
        """The statuses of a board as ``BoardStatus`` records, in sort order; None if no board.

        Shaped after the notes (cw-api-notes.md, "Related settings"), not the trimmed
        spec, which has no boards paths. A project board's ``noTimeFlag`` statuses come
        out as ``timeEntryNotAllowed``, the field of the statuses of any ticket board.
        """
        with self._lock:
            board = self.db.execute(
                "SELECT id, name FROM boards WHERE id = ?", (board_id,)
            ).fetchone()
            if board is None:
                return None
            rows = self.db.execute(
                "SELECT id, name, sort, closed, no_time FROM statuses WHERE board_id = ? "
                "ORDER BY sort, id",
                (board_id,),
            ).fetchall()
        return [
            {
                "id": status_id,
                "name": name,
                "board": {"id": board[0], "name": board[1]},
                "sortOrder": sort,
                "closedStatus": bool(closed),
                "timeEntryNotAllowed": bool(no_time),
            }
            for status_id, name, sort, closed, no_time in rows
        ]

    # --- helpers inside a transaction ---------------------------------------------------

    @staticmethod
    def _get(db: sqlite3.Connection, resource: Resource, record_id: object) -> dict | None:
        if type(record_id) is not int:
            return None
        row = db.execute(f"SELECT body FROM {resource.table} WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    @staticmethod
    def _put(db: sqlite3.Connection, resource: Resource, body: dict[str, Any]) -> None:
        db.execute(
            f"INSERT OR REPLACE INTO {resource.table} (id, body) VALUES (?, ?)",
            (body["id"], dumps(body)),
        )

    @staticmethod
    def _next_id(db: sqlite3.Connection, table: str) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        return (row[0] if row else 0) + 1

    def _stamp(self, previous: str | None = None) -> str:
        # A record's lastUpdated moves forward on every change, even two in one second, so
        # that a client comparing it always sees the change.
        now = self.clock().replace(microsecond=0)
        if previous and _valid_datetime(previous):
            now = max(now, parse_datetime(previous) + timedelta(seconds=1))
        return format_datetime(now)

    def _find(
        self,
        db: sqlite3.Connection,
        resource: Resource,
        ref: dict[str, Any] | None,
        field: str,
        errors: list[dict[str, str]],
        *,
        owner: str,
        required: bool = False,
    ) -> dict[str, Any] | None:
        """Resolve a reference given by id, identifier or name; a NotFound error if none."""
        if ref is None:
            if required and not _has_error(errors, field):
                message = f"{field} is required"
                errors.append(field_error("MissingRequiredField", message, owner, field))
            return None
        if "id" in ref:
            found, label = self._get(db, resource, ref["id"]), ref["id"]
        else:
            found, label = None, None
            for key, sql in resource.lookups:
                if isinstance(ref.get(key), str):
                    label = ref[key]
                    row = db.execute(
                        f"SELECT body FROM {resource.table} WHERE {sql} = ? COLLATE NOCASE "
                        "ORDER BY id LIMIT 1",
                        (label,),
                    ).fetchone()
                    found = None if row is None else json.loads(row[0])
                    break
            if label is None:
                ways = " or ".join(["id", *(key for key, _ in resource.lookups)])
                message = f"{field} must give the {resource.key}'s {ways}"
                errors.append(field_error("MissingRequiredField", message, owner, field))
                return None
        if found is None:
            errors.append(field_error("NotFound", f"{field} {label} not found", owner, field))
        return found

    # --- time entries -------------------------------------------------------------------

    def create_time_entry(self, raw: dict[str, Any], *, actor: str = API_MEMBER) -> dict:
        """POST /time/entries: validate, resolve, derive, file into the week's time sheet."""
        with self.write() as db:
            return self._save_entry(db, raw, None, set(raw), actor)

    def replace_time_entry(
        self, entry_id: int, raw: dict[str, Any], *, actor: str = API_MEMBER
    ) -> dict:
        """PUT /time/entries/{id}: the body replaces every client-set field."""
        with self.write() as db:
            existing = self._editable_entry(db, entry_id, "changed")
            return self._save_entry(db, raw, existing, set(raw), actor)

    def patch_time_entry(self, entry_id: int, ops: list[Any], *, actor: str = API_MEMBER) -> dict:
        """PATCH /time/entries/{id}: apply JSON Patch operations, then validate as a whole."""
        with self.write() as db:
            existing = self._editable_entry(db, entry_id, "changed")
            patched, touched = apply_patch(TIME_ENTRY, existing, ops)
            return self._save_entry(db, patched, existing, touched, actor)

    def delete_time_entry(self, entry_id: int) -> None:
        """DELETE /time/entries/{id}."""
        with self.write() as db:
            existing = self._editable_entry(db, entry_id, "deleted")
            db.execute("DELETE FROM time_entries WHERE id = ?", (entry_id,))
            self._refresh_sheet(db, existing["timeSheet"]["id"], API_MEMBER)

    def reject_time_entry(
        self, entry_id: int, raw: dict[str, Any] | None, *, actor: str = API_MEMBER
    ) -> None:
        """POST /time/entries/{id}/reject: a submitted or approved entry becomes Rejected."""
        with self.write() as db:
            entry = self._get(db, TIME_ENTRY, entry_id)
            if entry is None:
                raise not_found(TIME_ENTRY.key, entry_id)
            errors: list[dict[str, str]] = []
            typed_values(_TIER_REJECT, raw or {}, errors, "timeEntryTierReject")
            if errors:
                raise invalid("timeEntryTierReject", errors)
            if entry["status"] in BILLED:
                raise _billed(entry, "rejected")
            if entry["status"] not in LOCKED:
                raise _bad_status(
                    TIME_ENTRY.key,
                    f"time entry {entry_id} is {entry['status']}: only submitted or approved "
                    "time can be rejected",
                )
            entry["status"] = "Rejected"
            entry["_info"] = record_info(self._stamp(entry["_info"].get("lastUpdated")), actor)
            self._put(db, TIME_ENTRY, entry)

    def _editable_entry(self, db: sqlite3.Connection, entry_id: int, verb: str) -> dict:
        entry = self._get(db, TIME_ENTRY, entry_id)
        if entry is None:
            raise not_found(TIME_ENTRY.key, entry_id)
        status = entry.get("status", "Open")
        if status in BILLED:
            raise _billed(entry, verb)
        if status in LOCKED:
            raise ApiProblem(
                400,
                "TimeEntryApi",
                f"Time entry {entry_id} is {status} on time sheet "
                f"{entry['timeSheet']['name']}, so it can't be {verb}: reject or reverse the "
                "time sheet first.",
            )
        return entry

    def _save_entry(
        self,
        db: sqlite3.Connection,
        raw: dict[str, Any],
        existing: dict[str, Any] | None,
        given: set[str],
        actor: str,
    ) -> dict[str, Any]:
        owner = TIME_ENTRY.key
        errors: list[dict[str, str]] = []
        data = typed_fields(TIME_ENTRY, raw, errors)
        given = {TIME_ENTRY.lower_names.get(g.lower(), g) for g in given}
        if "timeStart" not in data and not _has_error(errors, "timeStart"):
            message = "timeStart is required: when the work started, e.g. 2024-05-06T09:00:00Z"
            errors.append(field_error("MissingRequiredField", message, owner, "timeStart"))
        res = RESOURCES
        member = self._find(
            db, res["member"], data.get("member"), "member", errors, owner=owner, required=True
        )
        company = self._find(
            db, res["company"], data.get("company"), "company", errors, owner=owner
        )
        work_type = self._find(
            db, res["workType"], data.get("workType"), "workType", errors, owner=owner
        )
        work_role = self._find(
            db, res["workRole"], data.get("workRole"), "workRole", errors, owner=owner
        )
        charge = self._charge(db, data, company, errors)
        times = entry_times(data, given, errors) if not errors else None
        if errors:
            raise invalid(owner, errors)
        assert member is not None and charge is not None and times is not None
        if member.get("inactiveFlag"):
            message = (
                f"member {member['identifier']} is inactive, so time can't be entered for them"
            )
            raise invalid(owner, [field_error("InvalidField", message, owner, "member")])
        same_charge = existing is not None and (
            (existing.get("chargeToType"), existing.get("chargeToId")) == (charge.type, charge.id)
        )
        if charge.ticket is not None and not same_charge and self._blocks_time(db, charge.ticket):
            raise ApiProblem(400, "TimeEntryApi", BLOCKED_TICKET_MESSAGE)
        start, end, deduct, hours = times

        if work_type is None:
            default = (charge.charge_code or {}).get("workType") or member.get("workType")
            work_type = self._get(db, res["workType"], (default or {}).get("id"))
            work_type = work_type or json.loads(self.rows(res["workType"], limit=1)[0][1])
        if work_role is None:
            default = (charge.charge_code or {}).get("workRole") or member.get("workRole")
            work_role = self._get(db, res["workRole"], (default or {}).get("id"))
            work_role = work_role or json.loads(self.rows(res["workRole"], limit=1)[0][1])
        billable = data.get("billableOption") or (
            (charge.charge_code or {}).get("billTime")
            or ("Billable" if charge.type == "Company" else None)
            or work_type.get("billTime", "Billable")
        )
        if existing is not None and "hourlyRate" in given and "hourlyRate" in data:
            hourly_rate = data["hourlyRate"]
        elif existing is not None and "workRole" not in given:
            hourly_rate = existing.get("hourlyRate")
        else:
            hourly_rate = work_role.get("hourlyRate")

        now = self._stamp(existing["_info"].get("lastUpdated") if existing else None)
        sheet = self._sheet_for(db, member, parse_datetime(start).date(), actor, now)
        moved = existing is None or existing["timeSheet"]["id"] != sheet["id"]
        if moved and sheet["status"] not in EDITABLE:
            raise ApiProblem(
                400,
                "TimeEntryApi",
                f"The time sheet {reference('timeSheet', sheet)['name']} of "
                f"{member['identifier']} is {sheet['status']}, so no time can be added to it: "
                "reject or reverse the time sheet first.",
            )
        if existing is None:
            status = "Open"
            entry_id = self._next_id(db, TIME_ENTRY.table)
            entered = (now, actor)
        else:
            status = existing.get("status", "Open")
            status = "ErrorsCorrected" if status in ("Rejected", "RejectBySecondTier") else status
            entry_id = existing["id"]
            entered = (existing.get("dateEntered", now), existing.get("enteredBy", actor))
        body = build_time_entry(
            entry_id=entry_id,
            inputs=data,
            member=member,
            charge=charge,
            work_type=work_type,
            work_role=work_role,
            start=start,
            end=end,
            deduct=deduct,
            hours=hours,
            billable=billable,
            sheet=sheet,
            status=status,
            hourly_rate=hourly_rate,
            entered=entered,
            updated=(now, actor),
        )
        self._put(db, TIME_ENTRY, body)
        self._refresh_sheet(db, sheet["id"], actor)
        if existing is not None and moved:
            self._refresh_sheet(db, existing["timeSheet"]["id"], actor)
        return body

    def _charge(
        self,
        db: sqlite3.Connection,
        data: dict[str, Any],
        company: dict[str, Any] | None,
        errors: list[dict[str, str]],
    ) -> Charge | None:
        owner = TIME_ENTRY.key
        kind, target = data.get("chargeToType"), data.get("chargeToId")
        if _has_error(errors, "chargeToType") or _has_error(errors, "chargeToId"):
            return None
        if kind is None and target is None:
            kind = "Company"
        if kind is None:
            message = (
                "chargeToType is required with chargeToId: "
                "ServiceTicket, ProjectTicket, ChargeCode, Activity or Company"
            )
            errors.append(field_error("MissingRequiredField", message, owner, "chargeToType"))
            return None
        if kind == "Company":
            if target is not None:
                company = self._get(db, RESOURCES["company"], target)
                if company is None:
                    message = f"Company {target} not found"
                    errors.append(field_error("NotFound", message, owner, "chargeToId"))
                    return None
            if company is None:
                if not _has_error(errors, "company"):
                    message = "company is required for time charged to a company"
                    errors.append(field_error("MissingRequiredField", message, owner, "company"))
                return None
            return Charge("Company", company["id"], company)
        if target is None:
            message = f"chargeToId is required: the id of the {kind}"
            errors.append(field_error("MissingRequiredField", message, owner, "chargeToId"))
            return None
        if kind in TICKETS:
            ticket = self._get(db, TICKETS[kind], target)
            if ticket is None:
                errors.append(
                    field_error("NotFound", f"{kind} {target} not found", owner, "chargeToId")
                )
                return None
            owner_company = self._get(db, RESOURCES["company"], ticket["company"]["id"])
            assert owner_company is not None
            return Charge(kind, target, owner_company, ticket=ticket)
        if kind == "ChargeCode":
            code = self._get(db, RESOURCES["chargeCode"], target)
            if code is None:
                errors.append(
                    field_error("NotFound", f"ChargeCode {target} not found", owner, "chargeToId")
                )
                return None
            if code.get("timeEntryFlag") is False:
                message = f"charge code {code['name']} does not allow time entry"
                errors.append(field_error("InvalidField", message, owner, "chargeToId"))
                return None
            if company is None:
                if not _has_error(errors, "company"):
                    message = f"company is required for time charged to charge code {code['name']}"
                    errors.append(field_error("MissingRequiredField", message, owner, "company"))
                return None
            return Charge(kind, target, company, charge_code=code)
        errors.append(field_error("NotFound", f"Activity {target} not found", owner, "chargeToId"))
        return None

    @staticmethod
    def _blocks_time(db: sqlite3.Connection, ticket: dict[str, Any]) -> bool:
        status_id = ticket.get("status", {}).get("id")
        row = db.execute("SELECT no_time FROM statuses WHERE id = ?", (status_id,)).fetchone()
        return bool(row and row[0])

    def _sheet_for(
        self, db: sqlite3.Connection, member: dict[str, Any], day: date, actor: str, now: str
    ) -> dict[str, Any]:
        monday = day - timedelta(days=day.weekday())
        row = db.execute(
            "SELECT body FROM time_sheets WHERE member_id = ? AND date_start = ?",
            (member["id"], f"{monday.isoformat()}T00:00:00Z"),
        ).fetchone()
        if row is not None:
            return json.loads(row[0])
        sheet = build_time_sheet(
            sheet_id=self._next_id(db, TIME_SHEET.table),
            member=member,
            monday=monday,
            status="Open",
            hours=0.0,
            updated=(now, actor),
        )
        self._put(db, TIME_SHEET, sheet)
        return sheet

    def _refresh_sheet(self, db: sqlite3.Connection, sheet_id: int, actor: str) -> None:
        total = db.execute(
            "SELECT coalesce(sum(json_extract(body, '$.actualHours')), 0) "
            "FROM time_entries WHERE sheet_id = ?",
            (sheet_id,),
        ).fetchone()[0]
        sheet = self._get(db, TIME_SHEET, sheet_id)
        if sheet is not None and sheet.get("hours") != round(total, 2):
            sheet["hours"] = round(total, 2)
            sheet["_info"] = record_info(self._stamp(sheet["_info"].get("lastUpdated")), actor)
            self._put(db, TIME_SHEET, sheet)

    # --- time sheets --------------------------------------------------------------------

    def act_on_sheet(
        self, sheet_id: int, action: str, raw: dict[str, Any] | None, *, actor: str = API_MEMBER
    ) -> str:
        """POST /time/sheets/{id}/submit|approve|reject|reverse; the entries follow the sheet.

        Billed, billed-by-agreement and written-off entries keep their status.
        Returns the success message.
        """
        with self.write() as db:
            sheet = self._get(db, TIME_SHEET, sheet_id)
            if sheet is None:
                raise not_found(TIME_SHEET.key, sheet_id)
            errors: list[dict[str, str]] = []
            body = typed_values(_TIER_UPDATE, raw or {}, errors, "timeSheetTierUpdate")
            if errors:
                raise invalid("timeSheetTierUpdate", errors)
            current = sheet["status"]
            new = next_sheet_status(action, current, body.get("approvalType"))
            name = reference("timeSheet", sheet)["name"]
            if new is None:
                allowed = ", ".join(SHEET_ACTIONS[action])
                raise _bad_status(
                    TIME_SHEET.key,
                    f"time sheet {sheet_id} ({name}) is {current}: only {allowed} time sheets "
                    f"can be {_PAST[action]}",
                )
            now = self._stamp(sheet["_info"].get("lastUpdated"))
            sheet["status"] = new
            sheet["_info"] = record_info(now, actor)
            self._put(db, TIME_SHEET, sheet)
            entries = db.execute(
                "SELECT body FROM time_entries WHERE sheet_id = ?", (sheet_id,)
            ).fetchall()
            for (text,) in entries:
                entry = json.loads(text)
                if entry.get("status") not in BILLED and entry.get("status") != new:
                    entry["status"] = new
                    entry["_info"] = record_info(
                        self._stamp(entry["_info"].get("lastUpdated")), actor
                    )
                    self._put(db, TIME_ENTRY, entry)
            return f"Time sheet {sheet_id} ({name}) was {_PAST[action]}: it is now {new}."

    # --- other records ------------------------------------------------------------------

    def create_record(self, key: str, raw: dict[str, Any], *, actor: str = API_MEMBER) -> dict:
        """POST for members, companies, work types/roles, charge codes and tickets."""
        resource = RESOURCES[key]
        with self.write() as db:
            errors: list[dict[str, str]] = []
            data = typed_fields(resource, raw, errors)
            data.pop("id", None)
            for name in resource.required:
                if name not in data and not _has_error(errors, name):
                    message = f"{name} is required"
                    errors.append(field_error("MissingRequiredField", message, key, name))
            for field, target in _RECORD_REFERENCES.get(key, ()):
                if field in data:
                    found = self._find(db, RESOURCES[target], data[field], field, errors, owner=key)
                    if found is not None:
                        data[field] = reference(target, found)
            if key == "serviceTicket":
                self._ticket_placement(db, data, errors)
            elif key == "projectTicket":
                self._project_placement(db, data, errors)
            if resource.unique and isinstance(data.get(resource.unique), str):
                self._check_unique(db, resource, data[resource.unique], errors)
            if errors:
                raise invalid(key, errors)
            now = self._stamp()
            data["id"] = self._next_id(db, resource.table)
            data["_info"] = record_info(now, actor, now)
            body = ordered(resource, data)
            self._put(db, resource, body)
            return body

    def _check_unique(
        self, db: sqlite3.Connection, resource: Resource, value: str, errors: list[dict[str, str]]
    ) -> None:
        field = resource.unique
        assert field is not None
        row = db.execute(
            f"SELECT id FROM {resource.table} "
            f"WHERE json_extract(body, '$.{field}') = ? COLLATE NOCASE",
            (value,),
        ).fetchone()
        if row is not None:
            message = f"a {resource.key} with {field} {value!r} already exists (id {row[0]})"
            errors.append(field_error("ObjectExists", message, resource.key, field))

    def _ticket_placement(
        self, db: sqlite3.Connection, data: dict[str, Any], errors: list[dict[str, str]]
    ) -> None:
        owner = "serviceTicket"
        board = self._internal(
            db, "boards", "kind = 'service'", data.get("board"), "board", errors, owner
        )
        if board is None:
            return
        data["board"] = {"id": board[0], "name": board[2]}
        status = self._status(db, board[0], data.get("status"), errors, owner)
        if status is not None:
            data["status"] = status
            data["closedFlag"] = bool(
                db.execute("SELECT closed FROM statuses WHERE id = ?", (status["id"],)).fetchone()[
                    0
                ]
            )
        data["recordType"] = "ServiceTicket"

    def _project_placement(
        self, db: sqlite3.Connection, data: dict[str, Any], errors: list[dict[str, str]]
    ) -> None:
        owner = "projectTicket"
        project = None
        if "project" in data:
            project = self._internal(db, "projects", "1", data["project"], "project", errors, owner)
            if project is None:
                return
        where = f"project_id = {project[0]}" if project else "1"
        phase = self._internal(db, "phases", where, data.get("phase"), "phase", errors, owner)
        if phase is None:
            return
        if project is None:
            project = db.execute("SELECT * FROM projects WHERE id = ?", (phase[1],)).fetchone()
        company = self._get(db, RESOURCES["company"], project[2])
        board = db.execute("SELECT * FROM boards WHERE id = ?", (project[3],)).fetchone()
        assert company is not None and board is not None
        data["project"] = project_reference(project[0], project[1])
        data["phase"] = phase_reference(project[0], phase[0], phase[2])
        data["company"] = reference("company", company)
        data["board"] = {"id": board[0], "name": board[2]}
        status = self._status(db, board[0], data.get("status"), errors, owner)
        if status is not None:
            data["status"] = status
            data["closedFlag"] = bool(
                db.execute("SELECT closed FROM statuses WHERE id = ?", (status["id"],)).fetchone()[
                    0
                ]
            )

    @staticmethod
    def _internal(
        db: sqlite3.Connection,
        table: str,
        where: str,
        ref: dict[str, Any] | None,
        field: str,
        errors: list[dict[str, str]],
        owner: str,
    ) -> tuple | None:
        """A row of an internal table (boards, projects, phases) by id or name; first if none."""
        if ref is None:
            if field in ("board",):
                return db.execute(
                    f"SELECT * FROM {table} WHERE {where} ORDER BY id LIMIT 1"
                ).fetchone()
            errors.append(field_error("MissingRequiredField", f"{field} is required", owner, field))
            return None
        if "id" in ref:
            row = db.execute(
                f"SELECT * FROM {table} WHERE {where} AND id = ?", (ref["id"],)
            ).fetchone()
            label = ref["id"]
        elif "name" in ref:
            row = db.execute(
                f"SELECT * FROM {table} WHERE {where} AND name = ? COLLATE NOCASE "
                "ORDER BY id LIMIT 1",
                (ref["name"],),
            ).fetchone()
            label = ref["name"]
        else:
            message = f"{field} must give its id or name"
            errors.append(field_error("MissingRequiredField", message, owner, field))
            return None
        if row is None:
            errors.append(field_error("NotFound", f"{field} {label} not found", owner, field))
        return row

    @staticmethod
    def _status(
        db: sqlite3.Connection,
        board_id: int,
        ref: dict[str, Any] | None,
        errors: list[dict[str, str]],
        owner: str,
    ) -> dict[str, Any] | None:
        ref = ref or {}
        if "id" in ref:
            key, value = "id", ref["id"]
        elif "name" in ref:
            key, value = "name", ref["name"]
        else:
            key, value = (
                "sort",
                db.execute(
                    "SELECT min(sort) FROM statuses WHERE board_id = ?", (board_id,)
                ).fetchone()[0],
            )
        row = db.execute(
            f"SELECT id, name, sort FROM statuses WHERE board_id = ? AND {key} = ? COLLATE NOCASE",
            (board_id, value),
        ).fetchone()
        if row is None:
            errors.append(
                field_error("NotFound", f"status {value} not found on the board", owner, "status")
            )
            return None
        return status_reference(*row)


def status_reference(status_id: int, name: str, sort: int) -> dict[str, Any]:
    """A ticket's ``status`` (ServiceStatusReference)."""
    return {"id": status_id, "name": name, "sort": sort}


def project_reference(project_id: int, name: str) -> dict[str, Any]:
    """A project ticket's ``project``."""
    info = {"project_href": href(f"project/projects/{project_id}")}
    return {"id": project_id, "name": name, "_info": info}


def phase_reference(project_id: int, phase_id: int, name: str) -> dict[str, Any]:
    """A project ticket's ``phase``."""
    info = {"phase_href": href(f"project/projects/{project_id}/phases/{phase_id}")}
    return {"id": phase_id, "name": name, "_info": info}


# References that a new record may carry and the store resolves: (field, resource key).
_RECORD_REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "member": (("workRole", "workRole"), ("workType", "workType")),
    "chargeCode": (("company", "company"), ("workRole", "workRole"), ("workType", "workType")),
    "serviceTicket": (("company", "company"), ("workRole", "workRole"), ("workType", "workType")),
    "projectTicket": (("workRole", "workRole"), ("workType", "workType")),
}

_SUBMITTED = ("PendingApproval", "ApprovedByTierOne", "ApprovedByTierTwo")
SHEET_ACTIONS: dict[str, tuple[str, ...]] = {
    "submit": ("Open", "Rejected", "ErrorsCorrected", "RejectBySecondTier"),
    "approve": _SUBMITTED[:2],
    "reject": _SUBMITTED,
    "reverse": _SUBMITTED,
}
_PAST = {"submit": "submitted", "approve": "approved", "reject": "rejected", "reverse": "reversed"}


def next_sheet_status(action: str, current: str, approval_type: str | None = None) -> str | None:
    """The status a time sheet moves to, or None when the action isn't allowed from ``current``.

    submit: Open/Rejected/ErrorsCorrected → PendingApproval. approve: PendingApproval →
    ApprovedByTierOne (ApprovedByTierTwo with approvalType Tier2Update), ApprovedByTierOne →
    ApprovedByTierTwo. reject: PendingApproval → Rejected, approved → RejectBySecondTier.
    reverse: submitted or approved → Open.
    """
    if current not in SHEET_ACTIONS[action]:
        return None
    if action == "submit":
        return "PendingApproval"
    if action == "approve":
        tier_two = current == "ApprovedByTierOne" or approval_type == "Tier2Update"
        return "ApprovedByTierTwo" if tier_two else "ApprovedByTierOne"
    if action == "reject":
        return "Rejected" if current == "PendingApproval" else "RejectBySecondTier"
    return "Open"


def _billed(entry: dict[str, Any], verb: str) -> ApiProblem:
    return ApiProblem(
        400,
        "TimeEntryApi",
        f"Time entry {entry['id']} is {entry['status']}: billed time can't be {verb}.",
    )


def _bad_status(resource: str, message: str) -> ApiProblem:
    return invalid(resource, [field_error("InvalidStatus", message, resource, "status")])


_APPROVAL_TYPES = (
    "DataEntry Tier1Update Tier2Update Billing Service Project MonthlySummary SalesActivity "
    "Schedule"
)
_TIER_REJECT = _field_table(f"id:i approvalType:{'|'.join(_APPROVAL_TYPES.split())} comment:s")
_TIER_UPDATE = _field_table(f"id:i approvalType:{'|'.join(_APPROVAL_TYPES.split())}")


def typed_values(
    fields: dict[str, FieldType], raw: object, errors: list[dict[str, str]], owner: str
) -> dict[str, Any]:
    """Like :func:`typed_fields`, for a small request body such as TimeSheetTierUpdate."""
    if not isinstance(raw, dict):
        errors.append(field_error("InvalidField", "the body must be a JSON object", owner, ""))
        return {}
    out = {}
    names = {n.lower(): n for n in fields}
    for key, value in raw.items():
        name = names.get(key.lower())
        if name is None or value is None:
            continue
        try:
            out[name] = _coerce(fields[name], value, name)
        except _BadValue as exc:
            errors.append(field_error(exc.code, str(exc), owner, name))
    return out


def apply_patch(
    resource: Resource, body: dict[str, Any], ops: list[Any]
) -> tuple[dict[str, Any], set[str]]:
    """Apply ConnectWise JSON Patch operations to a copy of ``body``; also the fields touched.

    ``op`` is add, replace or remove; ``path`` is a top-level field name, spelt as in the
    spec (a leading ``/`` is allowed). A path inside an object (``company/id``) is refused:
    ConnectWise says to replace the whole object instead.
    """
    owner = resource.key
    errors: list[dict[str, str]] = []
    patched = dict(body)
    touched: set[str] = set()
    if not ops:
        raise invalid(
            owner, [field_error("InvalidField", "the patch has no operations", owner, "")]
        )
    for number, op in enumerate(ops, 1):
        where = f"operation {number}"
        if (
            not isinstance(op, dict)
            or not isinstance(op.get("op"), str)
            or not isinstance(op.get("path"), str)
        ):
            message = (
                f"{where} must be an object with a string op and path, e.g. "
                '{"op": "replace", "path": "notes", "value": "..."}'
            )
            errors.append(field_error("InvalidField", message, owner, "op"))
            continue
        kind = op["op"].lower()
        path = op["path"].removeprefix("/")
        if kind not in ("add", "replace", "remove"):
            message = f"{where}: op {op['op']!r} is not add, replace or remove"
            errors.append(field_error("InvalidField", message, owner, "op"))
        elif "/" in path:
            top = path.split("/")[0]
            message = (
                f"{where}: path {op['path']!r} points inside {top}; replace the whole object "
                f'instead: {{"op": "replace", "path": "{top}", "value": {{"id": ...}}}}'
            )
            errors.append(field_error("InvalidField", message, owner, top))
        elif path not in resource.fields:
            hint = resource.lower_names.get(path.lower())
            suffix = f"; did you mean {hint!r}?" if hint else ""
            message = f"{where}: {owner} has no field {path!r}{suffix}"
            errors.append(field_error("InvalidField", message, owner, path))
        elif path in ENTRY_READ_ONLY and resource is TIME_ENTRY:
            message = f"{where}: {path} is set by ConnectWise and can't be patched"
            errors.append(field_error("InvalidField", message, owner, path))
        elif kind == "remove":
            patched.pop(path, None)
            touched.add(path)
        elif "value" not in op:
            errors.append(field_error("InvalidField", f"{where} has no value", owner, path))
        else:
            patched[path] = op["value"]
            touched.add(path)
    if errors:
        raise invalid(owner, errors)
    return patched, touched
