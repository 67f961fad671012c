"""Knowledge-bank expansion (`videokr kb expand --subjects ...`): grow subjects through the `generator` role.

1. For each subject, one `expand_kb` call with the subject's current courses, lectures and knowledge points.
2. Every proposal is validated:
   - schema: course, lecture, name and statement non-empty and of sane length; 1-10 non-empty keywords;
   - duplicates by normalised name: against the subject's points in the bank, and within the batch;
   - parent: the subject exists in the bank; a lecture that already exists must be under the named course
     (new courses/lectures may be proposed unless `allow_new_courses` / `allow_new_lectures` is off).
3. Proposals land in `kb_proposals` as pending (valid) or rejected (with the reason). Nothing else moves.
4. Accepting (`accept`: True = every pending proposal of the subjects, or a list of proposal ids) merges them into
   the bank document, checks it with `kb.bank.validate`, writes it to `$VIDEOKR_HOME/knowledge_bank.yaml`
   and loads it into the bank tables (as a `knowledge_bank` run) for those subjects; the proposals become accepted.
A rerun asks the (cached or deterministic) generator again and changes nothing: a decided proposal (accepted or
rejected) keeps its verdict; pending ones are checked again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import polars as pl
import yaml

from jobs.kb import bank as kb
from jobs.prompts import load_prompt, render
from jobs.sources.base import ChatRequest, KBExpansion
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

log = logging.getLogger("videokr.kb_expand")

DEFAULTS = {"accept": False, "max_proposals": 20, "allow_new_courses": True, "allow_new_lectures": True,
            "source": None, "chunk_subjects": 8}   # subjects per committed chunk
SCHEMA = {"proposal_id": pl.Utf8, "subject_id": pl.Utf8, "course": pl.Utf8, "lecture": pl.Utf8, "name": pl.Utf8,
          "statement": pl.Utf8, "keywords": pl.List(pl.Utf8), "status": pl.Utf8, "reason": pl.Utf8,
          "kp_id": pl.Utf8, "model": pl.Utf8, "prompt_version": pl.Utf8, "call_id": pl.Utf8}


def norm_name(name: str) -> str:
    """Case, punctuation and spacing folded: 'Hooke's Law.' == "hooke s law"."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(name or "").lower()).split())


def find_subject(doc: dict, subject: str) -> dict | None:
    for d in doc.get("disciplines", []):
        for s in d.get("subjects", []):
            if kb.slug(s.get("name", "")) == kb.slug(subject):
                return s
    return None


def tree(subject: dict) -> dict[str, dict[str, list[str]]]:
    """{course: {lecture: [knowledge point names]}}."""
    return {c["name"]: {lec["name"]: [k["name"] for k in lec.get("knowledge_points", [])]
                        for lec in c.get("lectures", [])} for c in subject.get("courses", [])}


def proposal_id(subject_id: str, p: dict) -> str:
    key = "\x1f".join([subject_id] + [" ".join(str(p.get(k) or "").split()) for k in ("course", "lecture", "name",
                                                                                   "statement")])
    return "kbp-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def check_proposal(p: dict, existing: dict[str, dict[str, list[str]]], seen: set[str], opts: dict) -> str | None:
    """None when the proposal may be accepted, else the rejection reason (`kind: detail`)."""
    for field in ("course", "lecture", "name", "statement"):
        if not str(p.get(field) or "").strip():
            return f"schema: empty {field}"
    if len(p["name"]) > 120 or len(p["statement"]) > 600:
        return "schema: name over 120 or statement over 600 characters"
    kws = p.get("keywords") or []
    if not 1 <= len(kws) <= 10 or not all(isinstance(k, str) and k.strip() for k in kws):
        return "schema: keywords must be 1-10 non-empty strings"
    name = norm_name(p["name"])
    for course, lectures in existing.items():
        for lecture, kps in lectures.items():
            if name in {norm_name(k) for k in kps}:
                return f"duplicate_of_bank: '{k_of(kps, name)}' in {course} > {lecture}"
    if name in seen:
        return f"duplicate_in_batch: '{p['name'].strip()}'"
    courses = {norm_name(c): c for c in existing}
    lecture_home = {norm_name(lec): c for c, lectures in existing.items() for lec in lectures}
    course = courses.get(norm_name(p["course"]))
    if course is None and not opts["allow_new_courses"]:
        return f"parent: course '{p['course']}' is not in the bank"
    home = lecture_home.get(norm_name(p["lecture"]))
    if home is not None and home != course:
        return f"parent: lecture '{p['lecture']}' belongs to course '{home}', not '{p['course']}'"
    if home is None and not opts["allow_new_lectures"]:
        return f"parent: lecture '{p['lecture']}' is not in the bank"
    return None


def k_of(kps: list[str], name: str) -> str:
    return next(k for k in kps if norm_name(k) == name)


def canonical(p: dict, existing: dict[str, dict[str, list[str]]]) -> dict:
    """Reuse the bank's spelling of an existing course/lecture; strip whitespace."""
    courses = {norm_name(c): c for c in existing}
    course = courses.get(norm_name(p["course"]), p["course"].strip())
    lectures = {norm_name(lec): lec for lec in existing.get(course, {})}
    return {"course": course, "lecture": lectures.get(norm_name(p["lecture"]), p["lecture"].strip()),
            "name": " ".join(p["name"].split()), "statement": " ".join(p["statement"].split()),
            "keywords": [k.strip() for k in p.get("keywords") or [] if isinstance(k, str)]}


def build_request(subject: dict, existing: dict, prompt, max_proposals: int) -> ChatRequest:
    reserve = yaml.safe_load((Path(__file__).parents[1] / "seeds" / "expand_kb.yaml").read_text())["reserve"]
    examples = "\n".join(json.dumps(p, ensure_ascii=False) for ps in list(reserve.values())[:2] for p in ps[:1])
    listing = "\n".join(f"- {c}\n" + "\n".join(f"  - {lec}: " + "; ".join(kps) for lec, kps in lectures.items())
                        for c, lectures in existing.items())
    system = render(prompt, subject=subject["name"], existing=listing or "(none yet)",
                    max_proposals=max_proposals, examples=examples)
    return ChatRequest(role="generator", task="expand_kb", prompt_version=prompt.id, schema=KBExpansion,
                       messages=[{"role": "system", "content": system},
                                 {"role": "user", "content": f"Propose new knowledge points for {subject['name']}."}],
                       context={"subject_id": kb.slug(subject["name"]), "subject": subject["name"],
                                "existing": existing, "max_proposals": max_proposals})


def proposal_rows(sid: str, subject: dict, res, before: dict, rows: dict, p: dict, prompt_id: str) -> dict:
    """A subject's new kb_proposals rows (by proposal id) from one model reply, each checked (pending/rejected)."""
    existing, seen, out = tree(subject), set(), {}
    for prop in res.parsed.proposals:
        raw = prop.model_dump()
        pid = proposal_id(sid, raw)
        if pid in rows or pid in out or before.get(pid, {}).get("status") in ("accepted", "rejected"):
            if before.get(pid, {}).get("status") == "accepted":
                seen.add(norm_name(before[pid]["name"]))
            continue                      # exact repeat, or decided earlier (a verdict is never redone)
        reason = check_proposal(raw, existing, seen, p)
        row = canonical(raw, existing) if reason is None or not reason.startswith("schema") else raw
        if reason is None:
            seen.add(norm_name(row["name"]))
        out[pid] = {**{k: row.get(k) for k in ("course", "lecture", "name", "statement", "keywords")},
                    "proposal_id": pid, "subject_id": sid, "status": "pending" if reason is None else "rejected",
                    "reason": reason, "model": res.model, "prompt_version": prompt_id, "call_id": res.call_id,
                    "kp_id": kb.kp_id(subject["name"], *(str(row.get(k) or "") for k in ("course", "lecture", "name")))}
    return out


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None,
        offline_model=None) -> dict:
    from jobs.llm import ModelLayer
    settings = settings or Settings.load()
    given = {k: v for k, v in (params or {}).items() if v is not None}
    p = {**DEFAULTS, **settings.section("kb_expand"), **given}
    source = p["source"] or settings.knowledge_bank
    base = kb.load_bank(source)
    wanted = [kb.slug(s) for s in subjects or []] or [kb.slug(s["name"]) for d in base.get("disciplines", [])
                                                      for s in d.get("subjects", [])]
    with Warehouse(settings) as wh, stage_run(wh, "kb_expand", {"subjects": wanted},
                                              {k: str(v) for k, v in p.items()}) as run:
        layer = ModelLayer(settings, run, run.run_id, offline_model=offline_model)
        doc = expanded(base, accepted_rows(wh))       # the bank as curators have grown it so far
        prompt = load_prompt("expand_kb", settings=settings)
        todo, reqs = [], []
        for sid in wanted:
            subject = find_subject(doc, sid)
            if subject is None:
                run.quarantine(sid, "parent_missing", f"subject {sid!r} is not in the knowledge bank {source}")
                continue
            todo.append((sid, subject))
            reqs.append(build_request(subject, tree(subject), prompt, int(p["max_proposals"])))
        before = {r["proposal_id"]: r for r in wh.query(
            "SELECT * FROM kb_proposals WHERE subject_id IN (SELECT unnest(?::VARCHAR[]))", [wanted]).to_dicts()}
        rows: dict[str, dict] = {}
        size = max(1, int(p["chunk_subjects"]))
        for i in range(0, len(todo), size):   # a chunk of subjects: proposals, ledger, quarantine in one commit
            with run.chunk():
                fresh = len(rows)
                for (sid, subject), res in zip(todo[i:i + size], layer.call_many(reqs[i:i + size])):
                    if res.parsed is None:
                        run.quarantine(sid, "expansion_failed", f"{res.status}: {res.error}")
                        continue
                    rows |= proposal_rows(sid, subject, res, before, rows, p, prompt.id)
                if len(rows) > fresh:
                    run.write("kb_proposals", pl.DataFrame(list(rows.values())[fresh:], schema=SCHEMA))
                layer.flush()
        accepted, bank_path = [], None
        if isinstance(p["accept"], str):          # from the command line: "true"/"all" or "id1,id2"
            p["accept"] = {"true": True, "all": True, "yes": True, "1": True, "false": False, "no": False,
                           "0": False, "": False}.get(p["accept"].lower(), p["accept"])
        if p["accept"]:
            accepted, bank_path = accept(settings, wh, run, doc, wanted, p["accept"])
        layer.flush()
        statuses = {s: sum(r["status"] == s for r in rows.values()) for s in ("pending", "rejected")}
        reasons: dict[str, int] = {}
        for r in rows.values():
            if r["reason"]:
                reasons[r["reason"].split(":")[0]] = reasons.get(r["reason"].split(":")[0], 0) + 1
        log.info("kb expand: %d proposals %s, rejected by reason %s, accepted %d", len(rows), statuses, reasons,
                 len(accepted))
        return {"run_id": run.run_id, "stage": "kb_expand", "rows": dict(run.rows), "proposals": len(rows),
                **statuses, "rejected_by_reason": reasons, "accepted": len(accepted), "bank": bank_path}


def accept(settings: Settings, wh: Warehouse, run, doc: dict, subjects: list[str], which) -> tuple[list[str], str]:
    """Merge pending proposals into the bank and load it through the knowledge-bank stage."""
    pending = wh.query("""SELECT * FROM kb_proposals WHERE status = 'pending'
                          AND subject_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY proposal_id""",
                       [subjects]).to_dicts()
    if which is not True:
        ids = set(which if isinstance(which, (list, tuple, set)) else str(which).split(","))
        pending = [r for r in pending if r["proposal_id"] in ids]
    merged = expanded(doc, [])                    # deep copy; the source file is never edited in place
    taken, stale = [], []
    for r in pending:
        subject = find_subject(merged, r["subject_id"])
        reason = check_proposal(r, tree(subject), set(), {"allow_new_courses": True, "allow_new_lectures": True})
        if reason:                                # e.g. a point accepted meanwhile under another id
            stale.append({**r, "status": "rejected", "reason": reason})
            continue
        add_point(subject, r)
        taken.append(r)
    problems = kb.validate(merged)
    if problems:
        raise kb.KnowledgeBankError("expanded bank", problems)
    path = Path(settings.home) / "knowledge_bank.yaml"
    if taken:
        path.write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True))
        kb.write_bank(settings, merged, str(path), sorted({r["subject_id"] for r in taken}),
                      params={"source": str(path)})
    done = [{**{k: r[k] for k in SCHEMA}, "status": "accepted", "reason": None} for r in taken]
    done += [{k: r[k] for k in SCHEMA} for r in stale]
    if done:
        run.write("kb_proposals", pl.DataFrame(done, schema=SCHEMA))
    return [r["proposal_id"] for r in taken], str(path) if taken else None


def accepted_rows(wh: Warehouse) -> list[dict]:
    return wh.query("SELECT * FROM kb_proposals WHERE status = 'accepted' ORDER BY proposal_id").to_dicts()


def expanded(doc: dict, accepted: list[dict]) -> dict:
    """A copy of the bank document with the accepted proposals merged in (the knowledge-bank stage can load it
    with `expanded(load_bank(path), accepted_rows(wh))` so that accepted points survive a reload of the file)."""
    out = json.loads(json.dumps(doc))
    for r in accepted:
        subject = find_subject(out, r["subject_id"])
        if subject is None:
            continue
        names = {norm_name(k) for lectures in tree(subject).values() for kps in lectures.values() for k in kps}
        if norm_name(r["name"]) not in names:
            add_point(subject, r)
    return out


def add_point(subject: dict, r: dict) -> None:
    course = next((c for c in subject["courses"] if norm_name(c["name"]) == norm_name(r["course"])), None)
    if course is None:
        course = {"name": r["course"], "lectures": []}
        subject["courses"].append(course)
    lecture = next((lec for lec in course["lectures"] if norm_name(lec["name"]) == norm_name(r["lecture"])), None)
    if lecture is None:
        lecture = {"name": r["lecture"], "knowledge_points": []}
        course["lectures"].append(lecture)
    lecture["knowledge_points"].append({"name": r["name"], "statement": r["statement"],
                                        "keywords": list(r["keywords"])})
