"""Dataset card: tables from the card views (sql/views/v_*_stats.sql, v_coverage_gaps) plus matplotlib plots.

    from jobs.card import write_card
    write_card(Warehouse(settings), out_dir)     # -> out_dir/README.md, out_dir/*.png, out_dir/card.html

README.md links the PNG files beside it; card.html (jobs/card/html.py) is one self-contained file with the same
sections and its plots inline, to send or open anywhere.

Everything shown comes from SQL views analysts can query themselves (`SELECT * FROM v_dataset_stats`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from videokr.settings import Settings  # noqa: E402
from warehouse import Warehouse  # noqa: E402

log = logging.getLogger("videokr.card")

SKILL_NAMES = {"basic_video_reasoning": "Basic Video Reasoning",
               "knowledge_enhanced_perception": "Knowledge-enhanced Video Perception",
               "knowledge_intensive_reasoning": "Knowledge-Intensive Video Reasoning"}


def markdown_table(df: pl.DataFrame) -> str:
    if df.is_empty():
        return "_(no rows)_\n"
    def cell(v) -> str:
        if v is None:
            return ""
        return f"{v:,.4g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
    head = "| " + " | ".join(df.columns) + " |\n| " + " | ".join("---" for _ in df.columns) + " |\n"
    return head + "".join("| " + " | ".join(cell(v) for v in row) + " |\n" for row in df.iter_rows())


def _bar_by_split(df: pl.DataFrame, label: str, path: Path, title: str, horizontal: bool = False) -> None:
    """Grouped bars of `examples` per `label`, one colour per split (sft, rl)."""
    labels = sorted(set(df[label].to_list()))
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.35 * len(labels)) if horizontal else 4.0))
    width = 0.4
    for i, split in enumerate(("sft", "rl")):
        sub = dict(df.filter(pl.col("split") == split).select(label, "examples").iter_rows())
        pos = [j + (i - 0.5) * width for j in range(len(labels))]
        vals = [sub.get(lab, 0) for lab in labels]
        (ax.barh if horizontal else ax.bar)(pos, vals, width, label=split.upper())
    ticks = range(len(labels))
    if horizontal:
        ax.set_yticks(list(ticks), labels)
        ax.set_xlabel("examples")
    else:
        ax.set_xticks(list(ticks), labels, rotation=20, ha="right")
        ax.set_ylabel("examples")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _hist(values: list[float], path: Path, title: str, xlabel: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([v for v in values if v is not None], bins=30)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_card(wh: Warehouse, out_dir: str | Path, title: str = "VideoKR dataset card") -> dict:
    """Write README.md, card.html and the PNG plots into out_dir; returns their paths, the overview rows and the
    subjects with no example (coverage gaps)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = wh.query("SELECT * FROM v_dataset_stats")
    disc = wh.query("SELECT * FROM v_discipline_stats")
    subj = wh.query("SELECT * FROM v_subject_stats")
    qtype = wh.query("SELECT * FROM v_question_type_stats")
    skill = wh.query("SELECT * FROM v_skill_stats").with_columns(
        pl.col("skill").replace(SKILL_NAMES).alias("skill"))
    contam = wh.query("SELECT * FROM v_contamination_summary")
    by_bench = wh.query("SELECT * FROM v_contamination_by_benchmark")
    lengths = wh.query("SELECT DISTINCT video_id, video_duration_s FROM v_dataset_examples")
    think = wh.query("SELECT think_words FROM v_dataset_examples")

    plots = {
        "discipline.png": lambda p: _bar_by_split(disc.filter(pl.col("split") != "total"), "discipline", p,
                                                  "Examples per discipline"),
        "subject.png": lambda p: _bar_by_split(subj.filter(pl.col("split") != "total"), "subject", p,
                                               "Examples per subject", horizontal=True),
        "skill.png": lambda p: _bar_by_split(skill.filter(pl.col("split") != "total"), "skill", p,
                                             "Examples per skill"),
        "question_type.png": lambda p: _bar_by_split(qtype.filter(pl.col("split") != "total"), "problem_type", p,
                                                     "Multiple-choice vs open-ended"),
        "video_length.png": lambda p: _hist([v / 60 for v in lengths["video_duration_s"].to_list() if v is not None],
                                            p, "Video length", "minutes"),
        "rationale_length.png": lambda p: _hist(think["think_words"].to_list(), p, "Rationale length", "words"),
    }
    for name, draw in plots.items():
        draw(out / name)

    gaps = wh.query("SELECT * FROM v_coverage_gaps")
    sections = [
        ("h1", title),
        ("p", f"Warehouse snapshot {wh.snapshot()}. Every number below is a SQL view (`SELECT * FROM v_dataset_stats`, "
              "`v_discipline_stats`, `v_subject_stats`, `v_question_type_stats`, `v_skill_stats`, `v_coverage_gaps`, "
              "`v_contamination_summary`, `v_contamination_by_benchmark`)."),
        ("h2", "Overview"), ("table", stats),
        ("h2", "Question types"), ("table", qtype), ("img", "question_type.png", "question types"),
        ("h2", "Skills"), ("table", skill), ("img", "skill.png", "skills"),
        ("h2", "Disciplines"), ("table", disc.filter(pl.col("split") == "total")), ("img", "discipline.png", "disciplines"),
        ("h2", "Subjects"), ("table", subj.filter(pl.col("split") == "total")), ("img", "subject.png", "subjects"),
        ("h2", "Coverage gaps"),
        ("p", f"{gaps.height} of {wh.query('SELECT count(*) FROM subjects').item()} subjects of the knowledge bank have "
              "no example in the dataset; the funnel shows where each was lost (`lost_at`: the first step that came "
              "up empty)." if gaps.height else "Every subject of the knowledge bank has examples."),
        *([("table", gaps.drop("subject_id"))] if gaps.height else []),
        ("h2", "Video and rationale length"),
        ("img", "video_length.png", "video length"), ("img", "rationale_length.png", "rationale length"),
        ("h2", "Decontamination"),
        ("p", "Videos matching an evaluation benchmark (YouTube id or near-duplicate windows) and the verified "
              "examples removed with them."), ("table", contam),
        ("p", "Benchmark items matched by a corpus video, by YouTube id and by near-duplicate windows (evidence per "
              "match: `contamination.evidence`)."), ("table", by_bench)]
    path = out / "README.md"
    path.write_text(to_markdown(sections))
    from jobs.card.html import to_html
    html = out / "card.html"
    html.write_text(to_html(sections, out, title))
    log.info("card: %s and %s (%d plots)", path, html, len(plots))
    return {"markdown": str(path), "html": str(html), "plots": [str(out / n) for n in plots],
            "stats": stats.to_dicts(), "coverage_gaps": gaps["subject_id"].to_list()}


def to_markdown(sections: list[tuple]) -> str:
    """The card's sections as Markdown (tables as pipe tables, plots as image links beside the file)."""
    md, imgs = [], []
    for kind, *body in sections + [("end",)]:
        if kind != "img" and imgs:
            md.append(" ".join(imgs) + "\n\n")
            imgs = []
        if kind == "h1":
            md.append(f"# {body[0]}\n\n")
        elif kind == "h2":
            md.append(f"## {body[0]}\n\n")
        elif kind == "p":
            md.append(body[0] + "\n\n")
        elif kind == "table":
            md.append(markdown_table(body[0]) + "\n")
        elif kind == "img":
            imgs.append(f"![{body[1]}]({body[0]})")
    return "".join(md)


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Write the card to params['out'] (default $VIDEOKR_HOME/card). The card always covers the whole dataset."""
    settings = settings or Settings.load()
    params = dict(params or {})
    out = Path(params.get("out") or settings.home / "card")
    with Warehouse(settings) as wh:
        return {"stage": "card"} | write_card(wh, out)
