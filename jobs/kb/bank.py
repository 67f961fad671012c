"""The knowledge bank: load, validate and flatten a bank file, and write it to the bank tables.

File format (YAML or JSON, format version 1), documented in README.md:

    version: 1
    disciplines:
      - name: Natural Sciences                 # one of the 4 disciplines of the paper
        subjects:
          - name: Physics                      # unique across the bank
            courses:
              - name: Classical Mechanics
                lectures:
                  - name: Oscillations
                    knowledge_points:
                      - name: Period of a simple pendulum
                        statement: "T = 2π√(L/g) for small amplitudes."
                        keywords: ["simple pendulum period"]

Ids are derived from names (slugs; knowledge points hash their full path), so reloading is idempotent.
`validate` lists every problem with its location before anything is written.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import yaml

from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.kb")

DISCIPLINES = ("Natural Sciences", "Healthcare", "Humanities and Social Sciences", "Engineering")
LEVELS = (("subjects", "subject"), ("courses", "course"), ("lectures", "lecture"), ("knowledge_points", "knowledge point"))
TABLES = ("disciplines", "subjects", "courses", "lectures", "knowledge_points")
DISCIPLINES_ITEM = "@disciplines"       # the fingerprint item of the disciplines table (not a subject)


class KnowledgeBankError(ValueError):
    """The bank file has problems; `problems` lists each with its location."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s) in the knowledge bank:\n"
                         + "\n".join(f"  - {p}" for p in problems))


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def kp_id(subject: str, course: str, lecture: str, name: str) -> str:
    path = "/".join(slug(x) for x in (subject, course, lecture, name))
    return "kp-" + hashlib.sha1(path.encode()).hexdigest()[:12]


def load_bank(source: str | Path | dict) -> dict:
    """Parse a bank file (YAML or JSON) or pass a dict through."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    if not path.is_file():
        raise KnowledgeBankError(str(path), ["file not found"])
    try:
        doc = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise KnowledgeBankError(str(path), [f"not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"]) from None
    return doc if isinstance(doc, dict) else {"disciplines": doc}


# longest text a bank field may hold (a pasted essay would go into every prompt of its knowledge point)
MAX_CHARS = {"name": 200, "statement": 2000, "keyword": 200}


def _text(node, key: str, where: str, problems: list[str]) -> str:
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: empty or missing '{key}'")
        return ""
    if len(value.strip()) > MAX_CHARS[key]:
        problems.append(f"{where}: '{key}' is {len(value.strip()):,} characters (at most {MAX_CHARS[key]:,})")
    return value.strip()


def _children(node: dict, key: str, label: str, where: str, problems: list[str]) -> list:
    items = node.get(key)
    if not isinstance(items, list) or not items:
        problems.append(f"{where}: missing level '{key}' (at least one {label} is required)")
        return []
    return items


def validate(doc: dict) -> list[str]:
    """Every problem in the bank, each prefixed with its location (e.g. 'Physics > Mechanics')."""
    problems: list[str] = []
    if isinstance(doc, dict) and doc.get("version", 1) != 1:
        problems.append(f"bank: format version {doc.get('version')!r} is not supported (this videokr reads version 1)")
    disciplines = _children(doc, "disciplines", "discipline", "bank", problems)
    seen_subjects: dict[str, str] = {}
    seen_disc: set[str] = set()
    for i, d in enumerate(disciplines):
        dname = _text(d, "name", f"disciplines[{i}]", problems)
        if dname and dname not in DISCIPLINES:
            problems.append(f"disciplines[{i}] '{dname}': unknown discipline (expected one of {', '.join(DISCIPLINES)})")
        if dname in seen_disc:
            problems.append(f"disciplines[{i}] '{dname}': duplicate discipline")
        seen_disc.add(dname)
        _walk(d if isinstance(d, dict) else {}, 0, dname or f"disciplines[{i}]", problems, seen_subjects)
    return problems


def _walk(node: dict, depth: int, where: str, problems: list[str], seen_subjects: dict[str, str]) -> None:
    key, label = LEVELS[depth]
    names: set[str] = set()
    for j, child in enumerate(_children(node, key, label, where, problems)):
        name = _text(child, "name", f"{where} > {key}[{j}]", problems)
        loc = f"{where} > {name or f'{key}[{j}]'}"
        if name and depth > 0 and slug(name) in names:
            problems.append(f"{loc}: duplicate {label} name under {where}")
        names.add(slug(name))
        if depth == 0 and name:
            if slug(name) in seen_subjects:
                problems.append(f"{loc}: duplicate subject (also under {seen_subjects[slug(name)]})")
            seen_subjects[slug(name)] = where
        if depth == len(LEVELS) - 1:
            _text(child, "statement", loc, problems)
            kws = child.get("keywords") if isinstance(child, dict) else None
            if not isinstance(kws, list) or not kws or not all(isinstance(k, str) and k.strip() for k in kws):
                problems.append(f"{loc}: 'keywords' must be a non-empty list of non-empty strings")
            elif any(len(k.strip()) > MAX_CHARS["keyword"] for k in kws):
                problems.append(f"{loc}: a keyword is longer than {MAX_CHARS['keyword']} characters")
        elif isinstance(child, dict):
            _walk(child, depth + 1, loc, problems, seen_subjects)


def flatten(doc: dict) -> dict[str, list[dict]]:
    """Rows for the 5 tables from a validated bank."""
    rows: dict[str, list[dict]] = {t: [] for t in TABLES}
    for d in doc["disciplines"]:
        did = slug(d["name"])
        rows["disciplines"].append({"discipline_id": did, "name": d["name"].strip()})
        for si, s in enumerate(d["subjects"]):
            sid = slug(s["name"])
            rows["subjects"].append({"subject_id": sid, "discipline_id": did, "name": s["name"].strip(), "position": si})
            for ci, c in enumerate(s["courses"]):
                cid = f"{sid}/{slug(c['name'])}"
                rows["courses"].append({"course_id": cid, "subject_id": sid, "name": c["name"].strip(), "position": ci})
                for li, lec in enumerate(c["lectures"]):
                    lid = f"{cid}/{slug(lec['name'])}"
                    rows["lectures"].append({"lecture_id": lid, "course_id": cid, "subject_id": sid,
                                             "name": lec["name"].strip(), "position": li})
                    for ki, kp in enumerate(lec["knowledge_points"]):
                        rows["knowledge_points"].append({
                            "kp_id": kp_id(s["name"], c["name"], lec["name"], kp["name"]), "lecture_id": lid,
                            "course_id": cid, "subject_id": sid, "discipline_id": did, "name": kp["name"].strip(),
                            "statement": kp["statement"].strip(), "keywords": [k.strip() for k in kp["keywords"]],
                            "position": ki})
    return rows


def write_bank(settings: Settings, doc: dict, source, subjects: list[str] | None = None,
               params: dict | None = None) -> dict:
    """Write a validated bank document's rows for `subjects` (slugs or names; empty: all) as one `knowledge_bank`
    stage run. Raises KnowledgeBankError for unknown subjects before anything is written."""
    params = dict(params or {})
    rows = flatten(doc)
    known = {r["subject_id"] for r in rows["subjects"]}
    wanted = [slug(s) for s in subjects or []]
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise KnowledgeBankError(str(source), [f"unknown subject(s) {unknown}; known: {sorted(known)}"])
    scope_ids = wanted or sorted(known)
    with Warehouse(settings) as wh, stage_run(wh, "knowledge_bank", {"subjects": wanted},
                                              {k: str(v) for k, v in params.items()} | {"source": str(source)}) as r:
        # change-only: a subject whose rows (in every bank table) hash as committed is not written at all
        fps = {DISCIPLINES_ITEM: fingerprint(rows["disciplines"])} | {
            sid: fingerprint([[x for x in rows[t] if x["subject_id"] == sid] for t in TABLES[1:]]) for sid in scope_ids}
        have = {} if params.get("force") else r.fingerprints(list(fps))
        changed = [s for s in scope_ids if have.get(s) != fps[s]]
        # no subjects given: the whole file is the scope, so subjects dropped from it are removed too
        gone = [] if wanted else sorted(set(wh.query("SELECT subject_id FROM subjects").to_series()) - known)
        r.skipped = len(scope_ids) - len(changed)
        with r.chunk():
            if have.get(DISCIPLINES_ITEM) != fps[DISCIPLINES_ITEM]:
                r.write("disciplines", rows["disciplines"])
            if changed or gone:
                for table in TABLES[1:]:
                    r.write(table, [x for x in rows[table] if x["subject_id"] in changed],
                            scope={"subject_id": changed + gone})
                r.forget(gone, {})
            r.mark_done({k: (fps[k], None if k == DISCIPLINES_ITEM else k) for k in [DISCIPLINES_ITEM, *changed]
                         if have.get(k) != fps[k]})
        log.info("knowledge_bank: %s; %d subjects unchanged (skipped), %d written, %d removed",
                 {t: len(v) for t, v in rows.items()}, r.skipped, len(changed), len(gone))
        return {"run_id": r.run_id, "stage": "knowledge_bank", "changed": r.changed, "rows": dict(r.rows),
                "skipped": r.skipped,
                "counts": {t: len([x for x in rows[t] if t == "disciplines" or x["subject_id"] in scope_ids])
                           for t in TABLES}}
