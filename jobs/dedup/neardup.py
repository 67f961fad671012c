"""Near-duplicate video detection over 64-bit window pHashes, in DuckDB SQL (sql/queries/neardup_*.sql).

    near_duplicates(con, NearDupParams(), corpus="my_corpus", bench="my_bench")
    # corpus: video_id, window_index, start_s, end_s, phash, quality  (fixed 20-s grid, window_hashes)
    # bench:  benchmark, bench_video_id, item_id, window_index, start_s, end_s, phash, quality  (1-s starts)

Why windows starting every second on the benchmark side, and the fixed grid on the corpus side: a copy is found
whatever its time shift only if, for each of its windows, some benchmark window covers (nearly) the same frames.
Hashing the benchmark side at every whole second puts one within 0.5 s of any shift (measured on the lecture
transformation set: aligned windows 0-7 bits apart, vs 5-22 when both sides start at t = 0). The benchmark side is
small (~2,000 videos), so 20x its windows is cheap, while the corpus (millions of videos) keeps the one fixed grid
the frames stage already writes; aligning 1 Hz frame hashes would need per-frame hashes of the whole corpus.

Why a second channel (window `motion`, jobs/media/windows.py motion_code): a 20-s window's majority pHash drifts
toward its channel's template layout, so unrelated lectures of one template come within a few bits (at t = 4 the
pHash alone flagged 19 same-template negatives and still missed crops). Per-window alternatives measured on the
set (DCT without the lowest terms, a template-subtracted residual, the mean thumbnail's hash) trade recall for
discrimination but none separates copies from template-mates. What copies keep and template-mates do not is
when the picture changes (slide changes, bullet builds); whole-frame differences survive crop, letterbox, logo,
re-encode and brightness/contrast (contrast divided out). So a window pair is a hit only when its pHashes are
within t AND its change instants agree (every change of the middle level or more has one of about its size within
motion_tol points on the other side), and the offset must hold for a share (min_share) of all aligned windows,
not only for a run of k: chance runs of 2 template-alike windows are common, whole-overlap agreement is not.
Status: in memory (exact 1 Hz frames) t=6, tol_s=2, max_mismatch=0, min_share=0.6, min_changes=2 gave 99.2%
recall / 0 false on the full set; on decoded files (2-s GOP keyframes serve the grid, so change instants move by
up to 2 points) it lost real copies, so the defaults below keep the channel off (previous behaviour) for now.

Matching, per step:
1. evidence (neardup_evidence.sql): low-information windows (quality < q_min: blank, uniform, fades) and stub
   windows never enter the join nor count;
2. seeds (neardup_pairs.sql): window pairs equal on one of `bands` wide bands and within t bits -> (corpus video,
   benchmark video, whole-second offset). Wide bands keep the join near-linear at 2.5M x 200K windows;
3. verification (neardup_sequences.sql): at each seed's offset every corpus window is compared with the benchmark
   windows within tol_s of alignment; a hit is within t bits with <= max_mismatch unmatched changes; a match is a
   run of >= k hits in order (gaps <= max_gap) with >= min_changes corroborated changes, at an offset where
   >= min_share of the aligned windows hit, whatever the videos' lengths, kept with its windows as evidence.
The same code runs on the warehouse connection (the stage) and on a plain in-memory DuckDB (tests, benchmark).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import polars as pl

from videokr.settings import SQL_DIR

QUERIES = SQL_DIR / "queries"
MOTION_POINTS = 20   # bits per motion mask: jobs.media.windows.MOTION_POINTS (not imported: no decoder needed here)


@dataclass(frozen=True)
class NearDupParams:
    t: int = 4              # Hamming threshold per window (bits of 64); chosen from bench_neardup.py's sweep
    k: int = 2              # windows in order needed, for every video (a 40-s clip has 2 full windows)
    tol_s: float = 1.0      # benchmark windows within this of alignment are compared with a corpus window
    max_gap: int = 1        # matched corpus windows may skip this many windows inside a run
    bands: int = 3          # seed bands (64 / bands bits each)
    q_min: int = 40         # windows of lower quality (0..100) never count
    min_len_s: float = 10.0  # shorter windows (a video's last stub) never count
    max_mismatch: int = 99  # unmatched changes allowed per window pair (motion masks, see motion_sql)
    motion_tol: int = 1     # grid points (s) a change may move between copy and original
    min_changes: int = 0    # corroborated changes a run needs
    min_share: float = 0.0  # hits / aligned windows at the run's offset

    def __post_init__(self):
        if not 0 <= self.t < 64:
            raise ValueError(f"neardup: t must be in [0, 63], got {self.t}")
        if self.k < 1 or self.tol_s < 0 or self.max_gap < 0 or not 1 <= self.bands <= 16 or \
                not 0 <= self.q_min <= 100 or self.min_len_s < 0 or self.max_mismatch < 0 or \
                not 0 <= self.motion_tol <= 3 or self.min_changes < 0:
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


def pairs_sql(n_bands: int) -> str:
    band = _sql("neardup_band.sql")
    joins = "\nUNION ALL\n".join(band.format(lo=lo, mask=(1 << w) - 1) for lo, w in bands(n_bands))
    return _sql("neardup_pairs.sql").format(band_joins=joins)


def motion_sql(tol: int, c: str = "mc", b: str = "mb") -> tuple[str, str]:
    """SQL (mismatches, corroborated) of two window motion codes (jobs/media/windows.py motion_code: masks of
    changes >= level 0, 1, 2 at bits 20 l + i). A change of level >= 1 on one side needs a change of level >= l - 1
    within `tol` points on the other; corroborated = the corpus's level-1 changes that have one."""
    full = f"{(1 << MOTION_POINTS) - 1}::UBIGINT"

    def mask(x: str, lvl: int) -> str:
        return f"(({x} >> {MOTION_POINTS * lvl}) & {full})"

    def near(x: str, lvl: int) -> str:
        m = mask(x, lvl)
        return "((" + " | ".join([m] + [f"({m} << {k}) | ({m} >> {k})" for k in range(1, tol + 1)]) + f") & {full})"

    def unmatched(x: str, y: str, lvl: int) -> str:
        return f"bit_count({mask(x, lvl)} & xor({near(y, lvl - 1)}, {full}))"

    mism = " + ".join(unmatched(x, y, lvl) for lvl in (1, 2) for x, y in ((c, b), (b, c)))
    return mism, f"bit_count({mask(c, 1)} & {near(b, 0)})"


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
    mism, agree = motion_sql(p.motion_tol)
    sql = _sql("neardup_sequences.sql").replace("{mismatch}", mism).replace("{agree}", agree)
    return con.execute(sql, {"t": p.t, "k": p.k, "tol_s": float(p.tol_s), "max_gap": p.max_gap,
                             "max_mismatch": p.max_mismatch, "min_changes": p.min_changes,
                             "min_share": float(p.min_share)}).pl()


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
