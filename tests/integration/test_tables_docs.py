"""Tables you can find: the sql/ files' descriptions are catalog comments, listed by `videokr tables` and
`videokr describe`; a SQL typo is one line naming the problem."""
from __future__ import annotations

import os
import subprocess
import sys

from videokr.settings import SQL_DIR


def _cli(home, *args):
    env = dict(os.environ, VIDEOKR_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "videokr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_every_table_and_view_has_a_catalog_description(wh):
    from warehouse.docs import catalog_listing, describe
    listing = {r["name"]: r for r in catalog_listing(wh.con)}
    files = {p.stem for p in (SQL_DIR / "schema").glob("*.sql")} | {p.stem for p in (SQL_DIR / "views").glob("*.sql")}
    assert files <= set(listing)
    assert not [n for n, r in listing.items() if not r["description"].strip()], "every object is described"
    cols = {c["column"]: c["description"] for c in describe(wh.con, "llm_calls")}
    assert cols["request_key"].startswith("the bare content hash") and cols["tokens_in"]
    assert wh.con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'v_dataset_stats'").fetchone()[0]


def test_cli_lists_describes_and_reports_sql_errors_in_one_line(tmp_path, settings):
    from warehouse import Warehouse
    Warehouse(settings).con.close()                           # a warehouse with its schema
    out = _cli(settings.home, "tables")
    assert out.returncode == 0 and "llm_calls" in out.stdout and "Ledger of model calls" in out.stdout
    out = _cli(settings.home, "describe", "screening")
    assert out.returncode == 0 and "keep | reject | pending" in out.stdout
    out = _cli(settings.home, "sql", "selec 1")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "syntax error" in out.stderr
    assert "Traceback" not in out.stderr
