"""Rationale lengths computed once at write time equal what v_dataset_examples derived per row in SQL."""
import duckdb
import pytest

from jobs.verify import rationale_lengths

SQL = """SELECT len(regexp_split_to_array(trim(coalesce(?, '')), '\\s+')),
                len(list_filter(string_split(coalesce(?, ''), chr(10)), x -> trim(x) <> ''))"""


@pytest.mark.parametrize("text", ["", "a b  c", " x\n\n y z \n", "one\ttwo\nthree", "\tx  ", "\t\n \n", None,
                                  "Step 1: look.\nStep 2: the bob swings 3 times.\n\nSo B."])
def test_matches_the_view_definition(text):
    assert tuple(rationale_lengths(text).values()) == duckdb.sql(SQL, params=[text, text]).fetchone()
