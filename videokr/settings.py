"""One settings object, read from `VIDEOKR_*` environment variables and an optional `videokr.toml`.

Precedence: environment > `videokr.toml` (path from `VIDEOKR_CONFIG`, else `./videokr.toml`) > defaults.
Secrets (API keys) are read from the environment only and never appear in `repr()` or logs.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"
DATA_DIR = REPO_ROOT / "jobs" / "data"


def _default_home() -> Path:
    return Path(os.environ.get("VIDEOKR_HOME") or Path.cwd() / ".videokr").resolve()


@dataclass
class Settings:
    home: Path = field(default_factory=_default_home)
    # DuckLake catalog: `sqlite:<file>` (default, embedded) or `postgres:<libpq dsn>` at scale.
    catalog_url: str = ""
    # DuckLake data path: a local folder (default) or an object-store URL (s3://, gs://, az://).
    data_path: str = ""
    knowledge_bank: str = ""          # path of the knowledge-bank file the stage loads
    benchmarks_dir: str = ""          # evaluation benchmark manifests (decontamination)
    search_source: str = "sample"     # sample | youtube
    moderation_source: str = "offline"  # offline | azure
    llm_source: str = "offline"       # offline | openai
    sample_cache: str = ""           # optional shared folder for sample-world renders (content-addressed)
    # Airflow deployment (videokr/cli/airflow_env.py): "local" = embedded (SQLite metadata, LocalExecutor);
    # "celery" = workers on any host: Postgres metadata DB (also the Celery result backend) and a Redis broker.
    executor: str = "local"
    airflow_db_url: str = ""          # SQLAlchemy URL of Airflow's metadata DB (default: SQLite in the Airflow home)
    broker_url: str = ""              # Celery broker, e.g. redis://redis:6379/0
    api_url: str = ""                 # the api-server as task runners reach it, e.g. http://api-server:8080
    seed: int = 20250101
    write_retries: int = 8
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # other toml sections

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        if not self.catalog_url:
            self.catalog_url = f"sqlite:{self.home / 'catalog.sqlite'}"
        if not self.data_path:
            self.data_path = str(self.home / "data") + "/"
        if not self.knowledge_bank:
            self.knowledge_bank = str(DATA_DIR / "knowledge_bank.yaml")
        if not self.benchmarks_dir:
            self.benchmarks_dir = str(REPO_ROOT.parent / "shared" / "benchmarks")

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    def section(self, name: str) -> dict[str, Any]:
        """A `[name]` table of `videokr.toml`, e.g. `settings.section("llm")`."""
        return dict(self.extra.get(name, {}))

    @staticmethod
    def secret(name: str) -> str | None:
        """A secret from the environment only (never from files, never logged)."""
        return os.environ.get(name) or None

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        cfg_path = Path(os.environ.get("VIDEOKR_CONFIG", "videokr.toml"))
        file_cfg: dict[str, Any] = {}
        if cfg_path.is_file():
            file_cfg = tomllib.loads(cfg_path.read_text())
        names = {f.name for f in fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {k: v for k, v in file_cfg.items() if k in names}
        kwargs["extra"] = {k: v for k, v in file_cfg.items() if k not in names}
        for name in names:
            env = os.environ.get(f"VIDEOKR_{name.upper()}")
            if env not in (None, ""):
                kwargs[name] = env
        for f in fields(cls):
            if f.name in kwargs and f.type in ("int", int):
                kwargs[f.name] = int(kwargs[f.name])
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)
