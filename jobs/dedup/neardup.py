"""Near-duplicate video detection over window pHashes, in DuckDB SQL (sql/queries/neardup_*.sql).

    near_duplicates(con, NearDupParams(), corpus="my_corpus", bench="my_bench")
    # corpus: video_id, window_index, start_s, end_s, phash, phash2, quality  (fixed 20-s grid, window_hashes)
    # bench:  benchmark, bench_video_id, item_id, window_index, start_s, end_s, phash, phash2, quality  (1-s starts)

Why windows starting every second on the benchmark side, and the fixed grid on the corpus side: a copy is found
whatever its time shift only if, for each of its windows, some benchmark window covers (nearly) the same frames.
Hashing the benchmark side at every whole second puts one within 0.5 s of any shift (measured on the lecture
transformation set: aligned windows 0-7 bits apart, vs 5-22 when both sides start at t = 0). The benchmark side is
small (~2,000 videos), so 20x its windows is cheap, while the corpus (millions of videos) keeps the one fixed grid
the frames stage already writes; aligning 1 Hz frame hashes would need per-frame hashes of the whole corpus.

Why two hashes per window (its 10-s halves, jobs/media/windows.py window_code) and their mean distance: a single
20-s pHash cannot tell a copy from another lecture of the same channel template. On the full transformation set
(tests/neardup_world.py: 120 copies, 1,000 same-template negatives), the best 2-window run of a copy was up to 7
bits of 64 off (crops) while negatives reached 4, so every threshold missed copies or flagged negatives (96.7%
recall and 2 false at t = 4). The halves keep the order of slides inside the window: the same runs measure <= 5
bits per hash for copies and >= 10 for negatives, so one threshold separates them with room on both sides (on
libx264 files, keyframe-sampled: 40 copies, 200 negatives, <= 7 vs >= 9). The change-instant channel tried before
(window motion masks) separated in memory but moved by up to 2 points on keyframe-sampled files; the halves need
no second channel nor threshold.

Matching, per step:
1. evidence (neardup_evidence.sql): low-information windows (quality < q_min: blank, uniform, fades in either
   half) and stubs shorter than min_len_s never enter the join nor count;
2. seeds (neardup_pairs.sql): window pairs equal on one of `bands` wide bands of either hash and within t ->
   (corpus video, benchmark video, whole-second offset). Wide bands keep the join near-linear at 2.5M x 200K;
3. verification (neardup_sequences.sql): at each seed's offset every corpus window is compared with the benchmark
   windows within tol_s of alignment; a hit is a distance <= t; a match is a run of >= k hits in order (gaps <=
   max_gap, each skipped window paid with one more hit), whatever the videos' lengths; the strongest run (hits
   weighted by t + 1 - distance) is kept with its windows as evidence.
Window distance: the mean of the two halves' Hamming distances (bits of 64); rows hashed before the halves (no
phash2: older hash versions, synthetic rows) compare their one hash, so t keeps its meaning for them.
The same code runs on the warehouse connection (the stage) and on a plain in-memory DuckDB (tests, benchmark).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import polars as pl

from videokr.settings import SQL_DIR

QUERIES = SQL_DIR / "queries"
HASH_COLUMNS = ("phash", "phash2")


@dataclass(frozen=True)
class NearDupParams:
    t: int = 7              # max window distance (mean bits of 64 per half hash); from bench_neardup.py's sweep:
                            # 100% / 0 false for t = 5-9, 5-8, 6-8 (seeds 0-2), 7-8 on libx264 files
    k: int = 2              # windows in order needed, for every video (a 40-s clip has 2 full windows)
    tol_s: float = 1.0      # benchmark windows within this of alignment are compared with a corpus window
    max_gap: int = 1        # matched corpus windows may skip this many windows inside a run
    bands: int = 3          # seed bands per 64-bit hash (64 / bands bits each)
    q_min: int = 40         # windows of lower quality (0..100) never count
    min_len_s: float = 10.0  # shorter windows (a video's last stub) never count

    def __post_init__(self):
        if not 0 <= self.t < 64:
            raise ValueError(f"neardup: t must be in [0, 63], got {self.t}")
        if self.k < 1 or self.tol_s < 0 or self.max_gap < 0 or not 1 <= self.bands <= 16 or \
                not 0 <= self.q_min <= 100 or self.min_len_s < 0:
            raise ValueError(f"neardup: bad parameters {self}")

    @classmethod
    def from_params(cls, params: dict | None) -> "NearDupParams":
        p = params or {}
        d = asdict(cls())
        return cls(**{k: type(v)(p[k]) for k, v in d.items() if p.get(k) is not None})


def _sql(name: str) -> str:
    return (QUERIES / name).read_text()


def bands(n: int) -> list[tuple[int, int]]:
    """(lowest bit, width) of n near-equal bands covering the 64 bits."""
    return [((i * 64) // n, ((i + 1) * 64) // n - (i * 64) // n) for i in range(n)]


def window_distance_sql(c: str = "c", b: str = "b") -> str:
    """SQL of the distance of corpus window `c` and benchmark window `b`: the mean Hamming distance of their two
    hashes; a side without phash2 (hashed before the halves) compares phash alone."""
    d1 = f"bit_count(xor({c}.phash, {b}.phash))"
    return f"(({d1} + coalesce(bit_count(xor({c}.phash2, {b}.phash2)), {d1})) / 2.0)"


def pairs_sql(n_bands: int) -> str:
    band = _sql("neardup_band.sql")
    joins = "\nUNION ALL\n".join(band.format(col=col, lo=lo, mask=(1 << w) - 1, dist=window_distance_sql())
                                 for col in HASH_COLUMNS for lo, w in bands(n_bands))
    return _sql("neardup_pairs.sql").format(band_joins=joins)


def evidence_views(con: duckdb.DuckDBPyConnection, p: NearDupParams, corpus: str, bench: str) -> None:
    """Temp views _corpus_windows / _bench_windows: the windows of `corpus` / `bench` that may count."""
    for name, src in (("_corpus_windows", corpus), ("_bench_windows", bench)):
        sql = _sql("neardup_evidence.sql").format(src=src, q_min=int(p.q_min), min_len_s=float(p.min_len_s))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")


def candidate_pairs(con: duckdb.DuckDBPyConnection, p: NearDupParams, into: str = "_seeds") -> int:
    """Materialise seeds (video_id, benchmark, bench_video_id, offset_s) into temp table `into`; their count."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {pairs_sql(p.bands)}", {"t": p.t})
    return con.execute(f"SELECT count(*) FROM {into}").fetchone()[0]


def sequence_matches(con: duckdb.DuckDBPyConnection, p: NearDupParams) -> pl.DataFrame:
    """Video pairs with a run of >= k matching windows at a seed's offset (reads temp table _seeds)."""
    sql = _sql("neardup_sequences.sql").replace("{dist}", window_distance_sql())
    return con.execute(sql, {"t": p.t, "k": p.k, "tol_s": float(p.tol_s), "max_gap": p.max_gap}).pl()


def near_duplicates(con: duckdb.DuckDBPyConnection, p: NearDupParams = NearDupParams(),
                    corpus: str = "_corpus_src", bench: str = "_bench_src") -> pl.DataFrame:
    """All steps on relations `corpus` and `bench`. Columns: video_id, benchmark, matched_item, bench_video_id,
    method, score, windows_matched, offset_s, mean_distance, evidence (list of {window_index, bench_start_s,
    distance})."""
    evidence_views(con, p, corpus, bench)
    try:
        candidate_pairs(con, p)
        return sequence_matches(con, p)
    finally:
        con.execute("DROP TABLE IF EXISTS temp._seeds")
        for v in ("_corpus_windows", "_bench_windows"):
            con.execute(f"DROP VIEW IF EXISTS temp.{v}")
