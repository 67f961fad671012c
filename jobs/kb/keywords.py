"""Optional model-based search keywords for collect (`[collect] expand_keywords = true`, or the DAG param).

For each knowledge point the `generator` role proposes extra YouTube search keywords from its name, statement and
the bank's keywords (prompt `jobs/prompts/expand_keywords.v1.md`). The model layer caches by content, so a resumed
collect gets the same keywords for free and never repeats a finished query; a point whose proposed keywords are
already in `search_queries` (an earlier run) is not asked again at all, so a daily resume over a large bank adds
no calls or ledger rows. A failed or malformed reply quarantines that knowledge point's expansion; its bank
keywords are still searched.
"""
from __future__ import annotations

import json
import re

from jobs.prompts import load_prompt, render
from jobs.sources.base import ChatRequest, KeywordExpansion

MAX_LEN = 80
_SPACE = re.compile(r"\s+")


def unique(words, known=()) -> list[str]:
    """`words` without case-insensitive repeats, and without any of `known`."""
    seen, out = {k.strip().lower() for k in known}, []
    for w in words:
        if w.lower() not in seen:
            seen.add(w.lower())
            out.append(w)
    return out


def clean(words: list[str], known: list[str], limit: int) -> list[str]:
    """Trim, collapse spaces, drop empties, over-long ones and repeats (case-insensitive, bank keywords included)."""
    trimmed = (_SPACE.sub(" ", w).strip().strip('"') for w in words)
    return unique([w for w in trimmed if w and len(w) <= MAX_LEN], known)[:limit]


def bank_keywords(kp: dict) -> list[str]:
    """The bank's keywords of a point, or its name when it has none."""
    return [k.strip() for k in (kp.get("keywords") or []) if k and k.strip()] or [kp["name"]]


def recorded(kps: list[dict], queries) -> dict[str, list[str]]:
    """kp_id -> the keywords earlier runs searched beyond the bank's: proposals already paid for."""
    bank = {kp["kp_id"]: {w.lower() for w in bank_keywords(kp)} for kp in kps}
    out: dict[str, list[str]] = {}
    for q in queries:
        if q["kp_id"] in bank and q["keyword"].lower() not in bank[q["kp_id"]]:
            out.setdefault(q["kp_id"], []).append(q["keyword"])
    return out


def build_request(kp: dict, prompt, limit: int) -> ChatRequest:
    known = list(kp.get("keywords") or [])
    system = render(prompt, max_keywords=limit)
    user = json.dumps({"knowledge_point": kp["name"], "statement": kp.get("statement") or "",
                       "keywords": known}, ensure_ascii=False)
    return ChatRequest(role="generator", task="expand_keywords", prompt_version=prompt.id, schema=KeywordExpansion,
                       messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                       context={"kp_id": kp["kp_id"], "name": kp["name"], "statement": kp.get("statement") or "",
                                "keywords": known, "max_keywords": limit})


def expand(settings, wh, run, kps: list[dict], limit: int, queries=(), offline_model=None,
           chunk: int = 500) -> dict[str, list[str]]:
    """kp_id -> up to `limit` new keywords: those earlier runs searched (from `queries`, the points' recorded
    search_queries rows), else one cached model call per knowledge point. The calls go in chunks of `chunk` points,
    each chunk's ledger rows committed as it ends (63,745 points at the paper's scale: a crash loses one chunk)."""
    from jobs.llm import ModelLayer
    out = recorded(kps, queries)
    kps = [kp for kp in kps if kp["kp_id"] not in out]
    if not kps or limit <= 0:
        return out
    layer = ModelLayer(settings, run, run.run_id, offline_model=offline_model)
    prompt = load_prompt("expand_keywords", settings=settings)
    try:
        for i in range(0, len(kps), max(1, chunk)):
            part = kps[i:i + max(1, chunk)]
            with run.chunk():                          # the chunk's ledger and quarantine rows: one transaction
                for kp, res in zip(part, layer.call_many([build_request(kp, prompt, limit) for kp in part])):
                    if res.parsed is None:
                        run.quarantine(kp["kp_id"], "keyword_expansion_failed", f"{res.status}: {res.error}")
                        continue
                    out[kp["kp_id"]] = clean(res.parsed.keywords, list(kp.get("keywords") or []), limit)
                layer.flush()
    finally:
        layer.close()
    return out
    layer = ModelLayer(settings, wh, run.run_id, offline_model=offline_model)
    prompt = load_prompt("expand_keywords", settings=settings)
    try:
        for kp, res in zip(kps, layer.call_many([build_request(kp, prompt, limit) for kp in kps])):
            if res.parsed is None:
                run.quarantine(kp["kp_id"], "keyword_expansion_failed", f"{res.status}: {res.error}")
                continue
            out[kp["kp_id"]] = clean(res.parsed.keywords, list(kp.get("keywords") or []), limit)
    finally:
        layer.flush()
    return out
