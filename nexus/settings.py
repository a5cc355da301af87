"""Settings, chosen per environment by one variable.

``NEXUS_ENV`` picks the environment (``local`` — the embedded default, ``ci`` or ``prod``).
Paths come from the environment too, so the same code runs on a laptop, in CI and on a cluster
whose lake root is shared storage:

- ``NEXUS_LAKE_ROOT``: root folder of the Delta lake (default ``<project>/lake``).
- ``NEXUS_LANDING_DIR``: inbox where historian / vendor files are dropped
  (default ``<project>/landing``).
- ``NEXUS_REPORTING_CURRENCY``: ISO 4217 currency prices are converted to in silver
  (default ``USD``; ``EUR`` also works with the ECB reference rates).

No setting is read at import time; call :func:`get_settings` where a value is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nexus.errors import ConfigError

Environment = Literal["local", "ci", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("local", "ci", "prod")


def project_root() -> Path:
    """The checkout the package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one process."""

    env: Environment
    lake_root: Path
    landing_dir: Path
    reporting_currency: str = "USD"

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"NEXUS_ENV must be one of {ENVIRONMENTS}, found {self.env!r}")
        if len(self.reporting_currency) != 3 or not self.reporting_currency.isupper():
            raise ConfigError(f"NEXUS_REPORTING_CURRENCY must be an ISO 4217 code like USD, found {self.reporting_currency!r}")


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    root = project_root()
    return Settings(
        env=env.get("NEXUS_ENV", "local"),  # type: ignore[arg-type]
        lake_root=Path(env.get("NEXUS_LAKE_ROOT") or root / "lake").expanduser().resolve(),
        landing_dir=Path(env.get("NEXUS_LANDING_DIR") or root / "landing").expanduser().resolve(),
        reporting_currency=env.get("NEXUS_REPORTING_CURRENCY", "USD"),
    )
