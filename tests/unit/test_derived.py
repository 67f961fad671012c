"""Derived columns are filled at write time with what the one-time SQL migration computes for older rows."""
import duckdb
import pyarrow as pa
import pytest

from videokr.settings import SQL_DIR
from warehouse import derived

TEXTS = ["", "a b  c", " x\n\n y z \n", "one\ttwo\nthree", "\tx  ", "\t\n \n", None,
         "Step 1: look.\nStep 2: the bob swings 3 times.\n\nSo B."]


@pytest.mark.parametrize("text", TEXTS)
def test_think_lengths_match_the_migration_sql(text):
    sql = (SQL_DIR / "migrations" / "verified_qa_think_lengths.sql").read_text()
    words, steps = (e.split("=", 1)[1].strip() for e in sql.split("SET", 1)[1].split("WHERE")[0].split(",\n"))
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT ?::VARCHAR AS think", [text])
    assert derived.think_lengths(text) == con.execute(f"SELECT {words}, {steps} FROM t").fetchone()


def test_fill_keeps_given_values_and_fills_nulls():
    data = pa.table({"think": ["a b", "x\ny\nz"], "think_words": pa.array([7, None], pa.int32())})
    out = derived.fill("verified_qa", data)
    assert out.column("think_words").to_pylist() == [7, 3]
    assert out.column("think_steps").to_pylist() == [1, 3]
    assert derived.fill("candidates", data) is data
