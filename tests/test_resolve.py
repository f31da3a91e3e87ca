"""Name resolution: matching rules, suggestions, batching, and every problem of a file at once."""

from __future__ import annotations

import pytest

from cwbulk.resolve import KINDS, NameIndex, normalize

MEMBERS = [
    {"id": 1, "identifier": "abaker", "firstName": "Avery", "lastName": "Baker",
     "officeEmail": "avery.baker@example.test", "inactiveFlag": False},
    {"id": 2, "identifier": "fgarcia", "firstName": "Finley", "lastName": "García",
     "officeEmail": "finley.garcia@example.test", "inactiveFlag": False},
    {"id": 3, "identifier": "slee", "firstName": "Sam", "lastName": "Lee",
     "officeEmail": "sam.lee@example.test", "inactiveFlag": False},
    {"id": 4, "identifier": "slee2", "firstName": "Sam", "lastName": "Lee",
     "officeEmail": "sam.lee2@example.test", "inactiveFlag": False},
    {"id": 5, "identifier": "Sam Lee", "firstName": "Other", "lastName": "Person",
     "officeEmail": "", "inactiveFlag": False},
]  # fmt: skip
WORK_TYPES = [{"id": n, "name": name} for n, name in enumerate(["Regular", "Remote", "Travel"])]


@pytest.mark.parametrize(
    ("value", "member_id"),
    [
        pytest.param("abaker", 1, id="identifier"),
        pytest.param("  ABaker ", 1, id="identifier-case-space"),
        pytest.param("Avery Baker", 1, id="full-name"),
        pytest.param("avery   BAKER", 1, id="full-name-spacing"),
        pytest.param("Baker, Avery", 1, id="last-comma-first"),
        pytest.param("AVERY.BAKER@example.test", 1, id="email"),
        pytest.param("Finley García", 2, id="unicode"),
        pytest.param("Finley Garci\u0301a", 2, id="decomposed-accent"),
        pytest.param("Finley Garcia", None, id="accent-matters"),
        pytest.param("ＦＩＮＬＥＹ García", 2, id="fullwidth-nfkc"),
        pytest.param("sam lee", 5, id="identifier-beats-name"),
    ],
)
def test_members_match_by_identifier_email_or_name(value: str, member_id: int | None) -> None:
    match = NameIndex(KINDS["members"], MEMBERS).find(value)
    if member_id is None:
        assert match.record is None
    else:
        assert match.record is not None, match.message(2)
        assert match.record["id"] == member_id


def test_two_members_alike_are_ambiguous_and_listed() -> None:
    match = NameIndex(KINDS["members"], MEMBERS).find("Lee, Sam")
    assert match.record is None
    assert match.code == "ambiguous_member"
    assert match.message(7) == (
        "member 'Lee, Sam' in row 7 matches 2 members: Sam Lee (slee), Sam Lee (slee2) "
        "— use the identifier or e-mail instead"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "Remot",
            "unknown work type 'Remot' in row 14 — did you mean 'Remote'?",
            id="one-suggestion",
        ),
        pytest.param(
            "Zzzzqx",
            "unknown work type 'Zzzzqx' in row 14 — see `cwbulk lookup work-types`",
            id="no-suggestion",
        ),
    ],
)
def test_unknown_values_come_with_suggestions(value: str, message: str) -> None:
    match = NameIndex(KINDS["work-types"], WORK_TYPES).find(value)
    assert match.code == "unknown_work_type"
    assert match.message(14) == message


def test_at_most_three_suggestions() -> None:
    index = NameIndex(KINDS["work-types"], [{"id": n, "name": f"Remote {n}"} for n in range(9)])
    assert len(index.suggest("Remote")) == 3


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        pytest.param("  Avery \t Baker\n", "avery baker", id="whitespace"),
        pytest.param("STRASSE", "strasse", id="upper"),
        pytest.param("Straße", "strasse", id="casefold"),
        pytest.param("ﬁnley", "finley", id="ligature"),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize(text) == normal
