"""The warehouse: a DuckLake catalog with a table registry, idempotent writes, run records and snapshots.

    wh = Warehouse(Settings.load())
    wh.query("SELECT count(*) FROM knowledge_points")      # -> polars.DataFrame
    with stage_run(wh, "knowledge_bank", scope) as run:
        run.write("subjects", rows, scope={"subject_id": ids})
"""
from __future__ import annotations

import polars as pl

from videokr.settings import Settings
from warehouse import catalog, schema, writes
from warehouse.runs import Run, new_run_id, stage_run

__all__ = ["Warehouse", "Run", "stage_run", "new_run_id"]


class Warehouse:
    def __init__(self, settings: Settings | None = None, read_only: bool = False):
        self.settings = settings or Settings.load()
        self.read_only = read_only
        self._con = None

    @property
    def con(self):
        if self._con is None:
            self._con = catalog.connect(self.settings, read_only=self.read_only)
            if not self.read_only:
                writes.transaction(self._con, lambda: schema.ensure_schema(self._con), self.settings.write_retries)
        return self._con

    def query(self, sql: str, params: list | dict | None = None) -> pl.DataFrame:
        return self.con.execute(sql, params or []).pl()

    def write(self, table: str, rows, run_id: str, scope: dict[str, list] | None = None,
              append: bool = False) -> dict[str, int]:
        return writes.write(self.con, schema.table(table), rows, run_id, scope, self.settings.write_retries, append)

    def write_many(self, items: list[tuple]) -> list[dict[str, int]]:
        """(table, rows, run_id, scope[, append]) writes in one transaction (see writes.write_many)."""
        return writes.write_many(self.con, [(schema.table(w[0]), *w[1:]) for w in items], self.settings.write_retries)

    def snapshot(self) -> int:
        return catalog.snapshot_id(self.con)

    def data_snapshot(self, tables: list[str]) -> int:
        """The newest snapshot that changed any of `tables` (see catalog.last_change_snapshot)."""
        return catalog.last_change_snapshot(self.con, tables)

    def tables(self) -> list[str]:
        return sorted(schema.registry())

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
