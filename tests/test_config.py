"""Connection profiles: the file (0600, round trip), env overrides, and `cwbulk config`."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner

from cwbulk import config
from cwbulk.cli import cli
from cwbulk.config import Profile, ProfileFile, select_profile
from cwbulk.errors import ConfigError, UsageError

SECRET = "pk-Very$ecret-0451"


def _profile(name: str = "main", **changes: str) -> Profile:
    values = {
        "site": "api-na.myconnectwise.net",
        "company": "acme",
        "public_key": "pub-1",
        "private_key": SECRET,
        "client_id": "0000-client",
        "timezone": "Europe/London",
    }
    return Profile(name=name, **{**values, **changes})


def _save(*profiles: Profile, default: str | None = None) -> ProfileFile:
    store = ProfileFile.load()
    for profile in profiles:
        store.add(profile)
    if default:
        store.default = default
    store.save()
    return store


ENV = {
    "CWBULK_SITE": "http://127.0.0.1:9",
    "CWBULK_COMPANY": "envco",
    "CWBULK_PUBLIC_KEY": "env-pub",
    "CWBULK_PRIVATE_KEY": "env-priv",
    "CWBULK_CLIENT_ID": "env-client",
}


def test_profiles_round_trip_and_are_private_to_their_owner() -> None:
    store = _save(_profile("main"), _profile("lab", site="http://127.0.0.1:8765", timezone=""))
    again = ProfileFile.load()
    assert again.profiles == {
        "main": _profile("main"),
        "lab": _profile("lab", site="http://127.0.0.1:8765", timezone=None),
    }
    assert again.default == "main", "the first profile added becomes the default"
    assert store.path == config.profiles_path()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert config.permission_warning() is None


def test_a_loose_profiles_file_is_warned_about() -> None:
    store = _save(_profile())
    os.chmod(store.path, 0o644)
    warning = config.permission_warning()
    assert warning is not None
    assert "0644" in warning and f"chmod 600 {store.path}" in warning
    _save(_profile("other"))
    assert config.permission_warning() is None, "saving again restores 0600"


def test_the_private_key_never_shows_in_repr_or_masked_dicts() -> None:
    profile = _profile()
    assert SECRET not in repr(profile)
    assert profile.to_dict()["private_key"] == config.MASK
    assert profile.to_dict(mask=False)["private_key"] == SECRET


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, _profile("main"), id="default-profile"),
        pytest.param(
            {"CWBULK_COMPANY": "other", "CWBULK_PRIVATE_KEY": "k2"},
            _profile("main", company="other", private_key="k2"),
            id="env-overrides-default",
        ),
        pytest.param({"CWBULK_PROFILE": "lab"}, _profile("lab", company="labco"), id="env-names"),
    ],
)
def test_select_profile_takes_the_default_with_env_overrides(
    env: dict[str, str], expected: Profile
) -> None:
    _save(_profile("main"), _profile("lab", company="labco"))
    assert select_profile(environ=env) == expected


def test_a_named_profile_is_used_as_written() -> None:
    _save(_profile("main"), _profile("lab", company="labco"))
    assert select_profile("lab", environ=ENV) == _profile("lab", company="labco")


def test_env_vars_alone_make_a_connection() -> None:
    profile = select_profile(environ=ENV)
    assert (profile.name, profile.site, profile.company, profile.client_id) == (
        "env",
        "http://127.0.0.1:9",
        "envco",
        "env-client",
    )


@pytest.mark.parametrize(
    ("setup", "name", "env", "message"),
    [
        pytest.param(False, None, {}, "No ConnectWise connection is set up.", id="nothing"),
        pytest.param(
            False,
            None,
            {k: v for k, v in ENV.items() if k != "CWBULK_CLIENT_ID"},
            "The CWBULK_* environment variables give no client id.",
            id="env-without-client-id",
        ),
        pytest.param(True, "nope", {}, "There is no profile 'nope' in", id="unknown-profile"),
        pytest.param(True, "noclient", {}, "Profile 'noclient' has no client id.", id="no-client"),
    ],
)
def test_missing_connection_details_are_named(
    setup: bool, name: str | None, env: dict[str, str], message: str
) -> None:
    if setup:
        _save(_profile("main"), _profile("noclient", client_id=""))
    with pytest.raises(ConfigError) as caught:
        select_profile(name, environ=env)
    assert str(caught.value).startswith(message)


def test_a_broken_profiles_file_is_a_config_error() -> None:
    path = config.profiles_path()
    path.parent.mkdir(parents=True)
    path.write_text("profiles: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="Can't read the profiles file"):
        ProfileFile.load()


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        pytest.param("America/Chicago", True, id="iana"),
        pytest.param("", True, id="blank"),
        pytest.param("Mars/Olympus", False, id="unknown"),
    ],
)
def test_check_timezone(name: str, ok: bool) -> None:
    if ok:
        assert config.check_timezone(name) == (name or None)
    else:
        with pytest.raises(UsageError, match="Unknown time zone 'Mars/Olympus'"):
            config.check_timezone(name)


def test_config_add_with_options_then_list_masks_the_key() -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "config", "add", "main",
            "--site", "api-na.myconnectwise.net",
            "--company", "acme",
            "--public-key", "pub-1",
            "--private-key", SECRET,
            "--client-id", "0000-client",
            "--timezone", "Europe/London",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert select_profile("main", environ={}) == _profile("main")
    listed = runner.invoke(cli, ["config", "list"])
    assert listed.exit_code == 0, listed.output
    assert SECRET not in listed.output
    assert "main" in listed.output and config.MASK in listed.output
    as_json = json.loads(runner.invoke(cli, ["--json", "config", "list"]).stdout)
    assert as_json["default"] == "main"
    assert as_json["profiles"][0]["private_key"] == config.MASK


def test_config_add_asks_and_hides_the_private_key() -> None:
    answers = "\n".join(
        ["api-eu.myconnectwise.net", "acme", "pub-2", SECRET, "client-2", "Asia/Tokyo"]
    )
    result = CliRunner().invoke(cli, ["config", "add", "eu"], input=answers + "\n")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output, "the private key prompt must not echo"
    saved = select_profile("eu", environ={})
    assert (saved.site, saved.private_key, saved.timezone) == (
        "api-eu.myconnectwise.net",
        SECRET,
        "Asia/Tokyo",
    )


@pytest.mark.parametrize(
    ("site", "message"),
    [
        pytest.param(
            "http://cw.example.com",
            "Error: The site 'http://cw.example.com' uses plain HTTP; ConnectWise needs HTTPS.",
            id="http-not-loopback",
        ),
        pytest.param(
            "ftp://cw.example.com",
            "Error: The site 'ftp://cw.example.com' is not a host name or an http(s) URL.",
            id="not-http",
        ),
    ],
)
def test_config_add_refuses_a_bad_site(site: str, message: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["config", "add", "x", "--site", site, "--company", "c", "--public-key", "p",
         "--private-key", "k", "--client-id", "i", "--timezone", ""],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == message
    assert not config.profiles_path().exists()


def test_config_list_warns_about_loose_permissions() -> None:
    store = _save(_profile())
    os.chmod(store.path, 0o640)
    result = CliRunner().invoke(cli, ["config", "list"])
    assert result.exit_code == 0
    assert "Warning:" in result.stderr and "0640" in result.stderr
