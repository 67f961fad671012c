"""Near-duplicate video detection over 64-bit window pHashes, in DuckDB SQL (sql/queries/neardup_*.sql).

    con.execute("CREATE TEMP TABLE _corpus_windows AS ...")   # video_id, window_index, start_s, phash
    con.execute("CREATE TEMP TABLE _bench_windows AS ...")    # benchmark, bench_video_id, item_id, window_index, start_s, phash
    df = near_duplicates(con, NearDupParams(t=3, k=3))

Step 1 (neardup_pairs.sql) is a banded equi-join with exact recall at Hamming distance t; step 2
(neardup_sequences.sql) keeps only video pairs with a run of >= k windows in order at a consistent time offset.
The same code runs on the warehouse connection (the stage) and on a plain in-memory DuckDB (the benchmark).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import polars as pl

from videokr.settings import SQL_DIR

QUERIES = SQL_DIR / "queries"


@dataclass(frozen=True)
class NearDupParams:
    t: int = 3              # Hamming threshold (bits of 64); t + 1 bands. Sample copies: <= 2; unrelated: >= 9
    k: int = 3              # windows in order needed (capped by the shorter video's window count)
    tol_s: float = 10.0     # time-offset tolerance between matched windows of one copy
    max_gap: int = 1        # matched corpus windows may skip this many windows inside a run

    def __post_init__(self):
        if not 0 <= self.t < 64:
            raise ValueError(f"neardup: t must be in [0, 63], got {self.t}")
        if self.k < 1 or self.tol_s <= 0 or self.max_gap < 0:
            raise ValueError(f"neardup: bad parameters {self}")

    @classmethod
    def from_params(cls, params: dict | None) -> "NearDupParams":
        p = params or {}
        d = asdict(cls())
        return cls(**{k: type(v)(p[k]) for k, v in d.items() if p.get(k) is not None})


def _sql(name: str) -> str:
    return (QUERIES / name).read_text()


def bands(t: int) -> list[tuple[int, int]]:
    """(lowest bit, width) of the t + 1 near-equal bands covering the 64 bits."""
    m = t + 1
    return [((i * 64) // m, ((i + 1) * 64) // m - (i * 64) // m) for i in range(m)]


def pairs_sql(t: int) -> str:
    band = _sql("neardup_band.sql")
    joins = "\nUNION ALL\n".join(band.format(lo=lo, mask=(1 << w) - 1) for lo, w in bands(t))
    return _sql("neardup_pairs.sql").format(band_joins=joins)


def candidate_pairs(con: duckdb.DuckDBPyConnection, t: int, into: str = "_pairs") -> int:
    """Materialise window pairs within distance t into temp table `into`; returns their count."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {pairs_sql(t)}", {"t": t})
    return con.execute(f"SELECT count(*) FROM {into}").fetchone()[0]


def sequence_matches(con: duckdb.DuckDBPyConnection, p: NearDupParams) -> pl.DataFrame:
    """Video pairs with a run of >= k matching windows (reads temp table _pairs)."""
    return con.execute(_sql("neardup_sequences.sql"),
                       {"k": p.k, "tol_s": float(p.tol_s), "max_gap": p.max_gap}).pl()


def near_duplicates(con: duckdb.DuckDBPyConnection, p: NearDupParams = NearDupParams()) -> pl.DataFrame:
    """Both steps. Columns: video_id, benchmark, matched_item, bench_video_id, method, score, windows_matched,
    offset_s, mean_distance."""
    candidate_pairs(con, p.t)
    return sequence_matches(con, p)
