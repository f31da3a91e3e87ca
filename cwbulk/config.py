"""Connection profiles: where they live, how they are read and written, and env overrides.

Profiles live in ``profiles.yaml`` under the user config dir (``platformdirs``), written
with mode 0600 because they hold private keys::

    default: main
    profiles:
      main:
        site: api-na.myconnectwise.net
        company: mycompany
        public_key: ...
        private_key: ...
        client_id: ...
        timezone: America/Chicago

Which connection a command uses: ``--profile NAME`` → that profile as written; else the
profile named by ``CWBULK_PROFILE`` or the default one, with any ``CWBULK_SITE``,
``CWBULK_COMPANY``, ``CWBULK_PUBLIC_KEY``, ``CWBULK_PRIVATE_KEY``, ``CWBULK_CLIENT_ID``
overriding its fields (or standing alone when there is no profile at all).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
import yaml

from cwbulk.errors import ConfigError, UsageError

FILE_NAME = "profiles.yaml"
MASK = "********"

#: Profile field → the environment variable that overrides it.
ENV_VARS: dict[str, str] = {
    "site": "CWBULK_SITE",
    "company": "CWBULK_COMPANY",
    "public_key": "CWBULK_PUBLIC_KEY",
    "private_key": "CWBULK_PRIVATE_KEY",
    "client_id": "CWBULK_CLIENT_ID",
}
PROFILE_ENV_VAR = "CWBULK_PROFILE"

_LABELS = {
    "site": "site",
    "company": "company id",
    "public_key": "public key",
    "private_key": "private key",
    "client_id": "client id",
}


@dataclass(frozen=True)
class Profile:
    """One ConnectWise connection; ``private_key`` never shows in ``repr``."""

    name: str
    site: str
    company: str
    public_key: str
    private_key: str = field(repr=False)
    client_id: str
    timezone: str | None = None

    def missing(self) -> list[str]:
        """The names of required fields that are empty."""
        return [key for key in ENV_VARS if not str(getattr(self, key) or "").strip()]

    def to_dict(self, *, mask: bool = True) -> dict[str, object]:
        """The profile as a dict; the private key masked unless ``mask=False``."""
        data = asdict(self)
        if mask:
            data["private_key"] = MASK if self.private_key else ""
        return data


def profiles_path() -> Path:
    """``<user config dir>/cwbulk/profiles.yaml``."""
    return Path(platformdirs.user_config_dir("cwbulk")) / FILE_NAME


@dataclass
class ProfileFile:
    """The profiles file in memory: ``load()``, change, ``save()``."""

    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    default: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> ProfileFile:
        """Read the file (an empty set of profiles when it does not exist)."""
        path = path or profiles_path()
        if not path.exists():
            return cls(path=path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"Can't read the profiles file {path}: {_first_line(exc)}",
                hint="Fix it by hand, or delete it and run `cwbulk config add NAME` again.",
            ) from exc
        raw = data.get("profiles") if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            raise ConfigError(
                f"The profiles file {path} has no `profiles:` mapping.",
                hint="Delete it and run `cwbulk config add NAME` again.",
            )
        profiles = {}
        for name, values in raw.items():
            if not isinstance(values, dict):
                raise ConfigError(f"Profile {name!r} in {path} is not a mapping of fields.")
            profiles[str(name)] = Profile(
                name=str(name),
                **{key: str(values.get(key) or "") for key in ENV_VARS},
                timezone=str(values["timezone"]) if values.get("timezone") else None,
            )
        default = data.get("default")
        return cls(path=path, profiles=profiles, default=str(default) if default else None)

    def save(self) -> None:
        """Write the file atomically, readable by its owner only (0600)."""
        data = {
            "default": self.default,
            "profiles": {
                name: {k: v for k, v in p.to_dict(mask=False).items() if k != "name"}
                for name, p in sorted(self.profiles.items())
            },
        }
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".profiles-")
        try:
            os.chmod(temp, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def add(self, profile: Profile, *, make_default: bool = False) -> None:
        """Add or replace a profile; the first one becomes the default."""
        self.profiles[profile.name] = profile
        if make_default or self.default not in self.profiles:
            self.default = profile.name

    def get(self, name: str) -> Profile:
        """The profile called ``name``, or a ConfigError listing the known ones."""
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none yet"
            raise ConfigError(
                f"There is no profile {name!r} in {self.path} (known: {known}).",
                hint=f"Create it with `cwbulk config add {name}`.",
            ) from None


def permission_warning(path: Path | None = None) -> str | None:
    """A warning when the profiles file can be read by others than its owner, else None."""
    path = path or profiles_path()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if os.name == "posix" and mode & 0o077:
        return (
            f"Warning: {path} holds private keys but has permissions {mode:04o}; "
            f"run `chmod 600 {path}`."
        )
    return None


def select_profile(
    name: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Profile:
    """The connection to use: a named profile, or the default one with env overrides.

    Raises ConfigError naming each missing field and where to set it.
    """
    environ = os.environ if environ is None else environ
    store = ProfileFile.load(path)
    if name:
        profile = store.get(name)
        _require_complete(profile, f"Profile {name!r}", f"cwbulk config add {name}", env=False)
        return profile
    chosen = environ.get(PROFILE_ENV_VAR) or store.default
    overrides = {k: environ[v].strip() for k, v in ENV_VARS.items() if environ.get(v, "").strip()}
    if chosen:
        profile = replace(store.get(chosen), **overrides)
        _require_complete(profile, f"Profile {chosen!r}", f"cwbulk config add {chosen}")
        return profile
    if not overrides:
        raise ConfigError(
            "No ConnectWise connection is set up.",
            hint="Run `cwbulk config add NAME`, or set CWBULK_SITE, CWBULK_COMPANY, "
            "CWBULK_PUBLIC_KEY, CWBULK_PRIVATE_KEY and CWBULK_CLIENT_ID, "
            "or try the bundled simulator with `cwbulk --sandbox ...`.",
        )
    profile = Profile(name="env", **{k: overrides.get(k, "") for k in ENV_VARS})
    missing = profile.missing()
    if missing:
        names = ", ".join(ENV_VARS[k] for k in missing)
        labels = ", ".join(_LABELS[k] for k in missing)
        raise ConfigError(
            f"The CWBULK_* environment variables give no {labels}.",
            hint=f"Set {names}, or use a profile (`cwbulk config add NAME`).",
        )
    return profile


def check_timezone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone (or empty → None), else a UsageError."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"Unknown time zone {name!r}.",
            hint="Use an IANA name such as Europe/London or America/New_York.",
        ) from None
    return name


def _require_complete(profile: Profile, what: str, fix: str, *, env: bool = True) -> None:
    missing = profile.missing()
    if missing:
        labels = ", no ".join(_LABELS[k] for k in missing)
        hint = f"Run `{fix}` to set it"
        if env:
            hint += ", or set " + ", ".join(ENV_VARS[k] for k in missing)
        raise ConfigError(f"{what} has no {labels}.", hint=f"{hint}.")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
