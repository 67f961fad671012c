"""The warehouse on a real DuckLake catalog (SQLite metadata + local Parquet)."""
from __future__ import annotations

import multiprocessing as mp
import os
import time

import polars as pl
import pytest

from warehouse import Warehouse, stage_run
from warehouse.schema import registry


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, home):
    """Every warehouse test runs on both catalogs: embedded SQLite, and a real PostgreSQL server (the at-scale path)."""
    from videokr.settings import Settings
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database()
        os.environ["VIDEOKR_CATALOG_URL"] = url
        request.addfinalizer(lambda: os.environ.pop("VIDEOKR_CATALOG_URL", None))
        return Settings.load(catalog_url=url)
    return Settings.load()


def _kp(subject: str, i: int, statement: str = "s") -> dict:
    return {"kp_id": f"{subject}-{i}", "lecture_id": "l", "course_id": "c", "subject_id": subject,
            "discipline_id": "d", "name": f"n{i}", "statement": statement, "keywords": ["k", str(i)], "position": i}


def _all(wh, table="knowledge_points") -> pl.DataFrame:
    return wh.query(f"SELECT * FROM {table} ORDER BY ALL")


def test_same_input_twice_gives_same_rows(wh):
    rows = [_kp("physics", i) for i in range(5)]
    with stage_run(wh, "t") as run:
        assert run.write("knowledge_points", rows, scope={"subject_id": ["physics"]})["inserted"] == 5
    before = _all(wh)
    with stage_run(wh, "t") as run:
        counts = run.write("knowledge_points", rows, scope={"subject_id": ["physics"]})
    assert counts == {"inserted": 0, "deleted": 0, "unchanged": 5}
    assert _all(wh).equals(before)                      # run ids too: unchanged rows keep theirs
    assert wh.query("SELECT count(*) n FROM runs WHERE status='success'")["n"][0] == 2


def test_scope_replace_leaves_other_scopes_byte_identical(wh):
    with stage_run(wh, "t") as run:
        run.write("knowledge_points", [_kp("physics", i) for i in range(3)] + [_kp("chemistry", i) for i in range(3)])
    chem_before = wh.query("SELECT * FROM knowledge_points WHERE subject_id='chemistry' ORDER BY ALL")
    with stage_run(wh, "t") as run:
        counts = run.write("knowledge_points", [_kp("physics", 0, "changed"), _kp("physics", 7)],
                           scope={"subject_id": ["physics"]})
    assert counts == {"inserted": 2, "deleted": 3, "unchanged": 0}   # p0 changed, p7 new; p0,p1,p2 removed
    phys = wh.query("SELECT kp_id, statement, run_id FROM knowledge_points WHERE subject_id='physics' ORDER BY 1")
    assert phys["kp_id"].to_list() == ["physics-0", "physics-7"]
    assert phys["statement"].to_list() == ["changed", "s"]
    assert phys["run_id"].n_unique() == 1 and phys["run_id"][0] == run.run_id
    assert wh.query("SELECT * FROM knowledge_points WHERE subject_id='chemistry' ORDER BY ALL").equals(chem_before)


def test_merge_by_key_never_deletes(wh):
    with stage_run(wh, "t") as run:
        run.write("disciplines", [{"discipline_id": "a", "name": "A"}, {"discipline_id": "b", "name": "B"}])
        run.write("disciplines", [{"discipline_id": "b", "name": "B2"}])
    assert _all(wh, "disciplines")["name"].to_list() == ["A", "B2"]


def test_bad_rows_are_refused_before_writing(wh):
    with stage_run(wh, "t") as run:
        with pytest.raises(ValueError, match="duplicate keys"):
            run.write("disciplines", [{"discipline_id": "a", "name": "A"}, {"discipline_id": "a", "name": "B"}])
        with pytest.raises(ValueError, match="not in sql/schema"):
            run.write("disciplines", [{"discipline_id": "a", "nme": "A"}])
    assert _all(wh, "disciplines").height == 0


def test_failed_run_is_recorded_with_its_error(wh):
    with pytest.raises(RuntimeError):
        with stage_run(wh, "boom") as run:
            run.quarantine("item-1", "bad_input", "it was bad")
            raise RuntimeError("kaboom")
    r = wh.query("SELECT status, error FROM runs WHERE stage='boom'")
    assert r["status"][0] == "failed" and "kaboom" in r["error"][0]
    assert wh.query("SELECT reason FROM quarantine")["reason"].to_list() == ["bad_input"]


def test_additive_column_change_migrates(wh, tmp_path, monkeypatch):
    wh.query("SELECT 1")  # create tables
    wh.con.execute("ALTER TABLE disciplines DROP COLUMN name")
    wh.close()
    w2 = Warehouse(wh.settings)
    cols = w2.query("DESCRIBE disciplines")["column_name"].to_list()
    assert "name" in cols
    w2.close()


def test_every_schema_file_declares_key_and_run_id():
    reg = registry()
    assert {"runs", "knowledge_points", "quarantine"} <= set(reg)
    for t in reg.values():
        assert t.key and "run_id" in dict(t.columns)


def _writer(home: str, subject: str, batches: int, q) -> None:
    os.environ["VIDEOKR_HOME"] = home
    from videokr.settings import Settings
    try:
        with Warehouse(Settings.load()) as wh:
            for b in range(batches):
                with stage_run(wh, f"w-{subject}") as run:
                    run.write("knowledge_points", [_kp(subject, i) for i in range((b + 1) * 10)],
                              scope={"subject_id": [subject]})
        q.put(("ok", subject))
    except Exception as exc:  # report, the parent asserts
        q.put(("error", f"{subject}: {exc!r}"))


def _reader(home: str, seconds: float, q) -> None:
    os.environ["VIDEOKR_HOME"] = home
    from videokr.settings import Settings
    n, errors = 0, []
    end = time.time() + seconds
    while time.time() < end:
        try:
            with Warehouse(Settings.load(), read_only=True) as wh:
                wh.query("SELECT count(*) FROM knowledge_points")
                n += 1
        except Exception as exc:
            errors.append(repr(exc))
    q.put(("reader", n, errors))


@pytest.mark.slow
def test_two_writers_and_a_reader_at_once(wh):
    wh.query("SELECT 1")  # the catalog exists before the race
    home = str(wh.settings.home)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(home, s, 6, q)) for s in ("physics", "chemistry")]
    procs.append(ctx.Process(target=_reader, args=(home, 8.0, q)))
    for p in procs:
        p.start()
    results = [q.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    reader = next(r for r in results if r[0] == "reader")
    assert reader[1] > 0 and not reader[2], reader
    counts = wh.query("SELECT subject_id, count(*) n FROM knowledge_points GROUP BY 1 ORDER BY 1")
    assert counts.to_dicts() == [{"subject_id": "chemistry", "n": 60}, {"subject_id": "physics", "n": 60}]
    assert wh.query("SELECT count(*) n FROM runs WHERE status='success'")["n"][0] == 12


def test_empty_scoped_write_empties_only_that_scope(wh):
    with stage_run(wh, "t") as run:
        run.write("knowledge_points", [_kp("physics", 1), _kp("chemistry", 1)])
        assert run.write("knowledge_points", [], scope={"subject_id": ["physics"]})["deleted"] == 1
        assert run.write("knowledge_points", [])["deleted"] == 0          # a merge of nothing changes nothing
    assert wh.query("SELECT subject_id FROM knowledge_points")["subject_id"].to_list() == ["chemistry"]
