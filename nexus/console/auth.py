"""Who may use the console, and as what: users, hashed passwords, roles and the login guard.

Users live in one JSON file, ``<console home>/users.json`` (mode 0600), name -> role and password
hash. Passwords are hashed with Werkzeug's ``generate_password_hash`` (scrypt, a random salt per
user); the file never holds a password. Three roles, each a superset of the one before:

* ``viewer``: reads every page (trends, events, health, recommendations and their audit, KPIs,
  reports).
* ``operator``: also approves and rejects proposed setpoint writes (the write-back runs with the
  operator's name) and runs what-if experiments on the twin.
* ``engineer``: also proposes writes from the day's recommendations and may give the plant's clock
  for an approval (an accelerated twin or a replay, as ``nexus setpoints approve --plant-time``).

The first start of a console with no users file creates ``admin`` (engineer) with a generated
password in ``<console home>/admin_password.generated`` (0600), as Airflow's simple auth manager
does; ``nexus console users add|list|remove|password`` manage the rest.

Every request except the login page needs a logged-in session (Flask-Login; the session cookie is
signed with a key generated once into ``<console home>/secret_key``, HttpOnly, SameSite=Lax, Secure
when ``NEXUS_CONSOLE_SECURE_COOKIE=1`` says the console is behind TLS, valid for 12 hours). The
cookie names the user's session generation: signing out, a new password or removing the user ends
every session of that user (an older cookie is refused). A page request without a session is sent
to the login page; an API call (Dash's callbacks, report files) gets 401. Five failed logins for a
name within five minutes lock that name for the rest of the five minutes; twenty from one client
address (whatever the names) lock that address likewise.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from nexus.errors import ConfigError
from nexus.settings import project_root

ROLES: tuple[str, ...] = ("viewer", "operator", "engineer")
#: What each role may do beyond reading (the console checks these on the server, not only in the page).
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "operator": frozenset({"approve", "reject", "what_if"}),
    "engineer": frozenset({"approve", "reject", "what_if", "propose", "plant_time"}),
}
MIN_PASSWORD_LENGTH = 8
LOCKOUT_ATTEMPTS, LOCKOUT_WINDOW_S = 5, 300.0


def console_home(environ: dict[str, str] | None = None) -> Path:
    """``NEXUS_CONSOLE_HOME``, default ``<project>/.console`` (users, secret key, generated password)."""
    env = os.environ if environ is None else environ
    return Path(env.get("NEXUS_CONSOLE_HOME") or project_root() / ".console").expanduser().resolve()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    session: int = 0  # the user's session generation: a signed cookie of an older one is refused

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, frozenset())


class Users:
    """The users file of one console home."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / "users.json"
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except ValueError as exc:
            raise ConfigError(f"{self.path} is not valid JSON: {exc}") from exc
        return data.get("users", {})

    def _save(self, users: dict[str, dict[str, str]]) -> None:
        _write_private(self.path, json.dumps({"users": users}, indent=2, sort_keys=True) + "\n")

    def exists(self) -> bool:
        return self.path.exists()

    def list(self) -> list[User]:
        return [User(n, u["role"]) for n, u in sorted(self._load().items())]

    def get(self, name: str) -> User | None:
        u = self._load().get(name)
        return User(name, u["role"], int(u.get("session", 0))) if u else None

    def end_sessions(self, name: str) -> None:
        """Invalidate every session of ``name`` (sign-out, password change): older cookies are refused."""
        with self._lock:
            users = self._load()
            if name in users:
                users[name]["session"] = int(users[name].get("session", 0)) + 1
                self._save(users)

    def add(self, name: str, password: str, role: str, *, replace: bool = False) -> User:
        """Add (or with ``replace``, update) a user; the password is stored hashed."""
        name = (name or "").strip()
        if not name or any(c.isspace() for c in name) or len(name) > 64:
            raise ConfigError(f"a user name is 1-64 characters without spaces, found {name!r}")
        if role not in ROLES:
            raise ConfigError(f"role must be one of {ROLES}, found {role!r}")
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ConfigError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
        with self._lock:
            users = self._load()
            if name in users and not replace:
                raise ConfigError(f"user {name!r} exists; `nexus console users password {name}` changes the password")
            session = int(users[name].get("session", 0)) + 1 if name in users else 0  # a new password ends sessions
            users[name] = {"role": role, "password_hash": generate_password_hash(password), "session": session}
            self._save(users)
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        user = self.get(name)
        if user is None:
            raise ConfigError(f"no user {name!r}")
        self.add(name, password, user.role, replace=True)

    def remove(self, name: str) -> None:
        with self._lock:
            users = self._load()
            if users.pop(name, None) is None:
                raise ConfigError(f"no user {name!r}")
            self._save(users)

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None (same work whether or not the name exists)."""
        u = self._load().get(name or "")
        stored = u["password_hash"] if u else _DUMMY_HASH
        ok = check_password_hash(stored, password or "")
        return User(name, u["role"], int(u.get("session", 0))) if (u and ok) else None

    def ensure_admin(self) -> Path | None:
        """With no users file yet: create ``admin`` (engineer) with a generated password, written 0600.

        Returns the password file's path when it was created, else None.
        """
        if self.exists():
            return None
        password = secrets.token_urlsafe(12)
        self.add("admin", password, "engineer")
        path = self.home / "admin_password.generated"
        _write_private(path, password + "\n")
        return path


_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def secret_key(home: Path) -> str:
    """The key that signs session cookies, generated once into ``<home>/secret_key`` (0600)."""
    path = Path(home) / "secret_key"
    if not path.exists():
        _write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


class Throttle:
    """At most :data:`LOCKOUT_ATTEMPTS` failed logins per name in :data:`LOCKOUT_WINDOW_S` seconds.

    Names are cut to 64 characters (the longest a user name can be) and forgotten once their
    failures have aged out, so made-up names cannot grow it without bound.
    """

    def __init__(self, attempts: int = LOCKOUT_ATTEMPTS, window_s: float = LOCKOUT_WINDOW_S) -> None:
        self.attempts, self.window_s = attempts, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> deque[float]:
        for key in [k for k, q in self._failures.items() if not q or now - q[-1] > self.window_s]:
            del self._failures[key]  # aged out
        q = self._failures[name[:64]]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def locked(self, name: str, now: float | None = None) -> bool:
        with self._lock:
            n = len(self._recent(name, time.monotonic() if now is None else now))
            if not n:
                self._failures.pop(name[:64], None)
            return n >= self.attempts

    def failed(self, name: str, now: float | None = None) -> None:
        with self._lock:
            now = time.monotonic() if now is None else now
            self._recent(name, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name[:64], None)
