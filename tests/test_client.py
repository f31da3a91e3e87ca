"""The ConnectWise client: sites, JSON Patch, retry policy, errors, pagination, safe creates.

Everything that talks HTTP talks to the sandbox: in-process (ASGI) or served on 127.0.0.1
with faults (rate limit, 5xx before the write, lost responses).
"""

from __future__ import annotations

import random
import re

import pytest

from cwbulk.client import RetryPolicy, parse_site, patch_ops
from cwbulk.errors import ConfigError

# -- pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "origin"),
    [
        pytest.param("api-na.myconnectwise.net", "https://api-na.myconnectwise.net", id="api-host"),
        pytest.param("na.myconnectwise.net", "https://api-na.myconnectwise.net", id="cloud-ui-na"),
        pytest.param(
            "https://EU.myconnectwise.net/v4_6_release/",
            "https://api-eu.myconnectwise.net",
            id="cloud-ui-url",
        ),
        pytest.param("cw.example.com:8443", "https://cw.example.com:8443", id="port"),
        pytest.param("http://127.0.0.1:8765", "http://127.0.0.1:8765", id="loopback-http"),
        pytest.param("http://localhost:8765", "http://localhost:8765", id="localhost-http"),
        pytest.param("http://[::1]:8765", "http://[::1]:8765", id="ipv6-loopback"),
    ],
)
def test_parse_site(site: str, origin: str) -> None:
    assert parse_site(site).origin == origin


@pytest.mark.parametrize(
    ("site", "message"),
    [
        pytest.param("http://cw.example.com", "uses plain HTTP", id="http-remote"),
        pytest.param("http://10.0.0.5:8080", "uses plain HTTP", id="http-private-ip"),
        pytest.param("ftp://cw.example.com", "is not a host name or an http(s) URL", id="ftp"),
        pytest.param("https://", "is not a host name or an http(s) URL", id="no-host"),
        pytest.param("https://cw.example.com:99999", "is not a host name", id="bad-port"),
        pytest.param("  ", "No ConnectWise site is set.", id="blank"),
    ],
)
def test_parse_site_refuses(site: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_site(site)


def test_parse_site_allows_http_only_when_asked() -> None:
    assert parse_site("http://sandbox.invalid", allow_http=True).origin == "http://sandbox.invalid"


def test_patch_ops_replace_and_remove() -> None:
    assert patch_ops({"notes": "fixed", "workType": {"id": 3}, "workRole": None}) == [
        {"op": "replace", "path": "notes", "value": "fixed"},
        {"op": "replace", "path": "workType", "value": {"id": 3}},
        {"op": "remove", "path": "workRole"},
    ]


def test_patch_ops_refuse_paths_inside_references() -> None:
    with pytest.raises(ValueError, match="replace the whole reference"):
        patch_ops({"company/identifier": "Contoso"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("3", 3.0, id="seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("600", 60.0, id="capped"),
        pytest.param(None, 5.0, id="missing"),
        pytest.param("soon", 5.0, id="garbage"),
        pytest.param("-4", 5.0, id="negative"),
        pytest.param("nan", 5.0, id="nan"),
    ],
)
def test_throttle_delay_honours_retry_after_up_to_the_cap(
    header: str | None, expected: float
) -> None:
    assert RetryPolicy().throttle_delay(header) == expected


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8, "jitter should use the whole range"
