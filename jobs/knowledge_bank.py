"""Knowledge-bank stage: load the bank file (format: jobs/kb/bank.py, README.md) into disciplines, subjects,
courses, lectures and knowledge_points, with the points accepted through `videokr kb expand` merged in.
"""
from __future__ import annotations

from jobs.kb.bank import KnowledgeBankError, load_bank, validate, write_bank
from jobs.kb.expand import accepted_rows, expanded
from videokr.settings import Settings
from warehouse import Warehouse

STAGE = "knowledge_bank"


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Load the bank (params['source'] or settings.knowledge_bank) for `subjects` (empty: all)."""
    settings = settings or Settings.load()
    params = dict(params or {})
    source = params.get("source") or settings.knowledge_bank
    doc = load_bank(source)
    problems = validate(doc)
    if not problems:  # knowledge points accepted through `videokr kb expand` survive a reload of the file
        with Warehouse(settings) as wh:
            doc = expanded(doc, accepted_rows(wh))
        problems = validate(doc)
    if problems:
        raise KnowledgeBankError(str(source if not isinstance(source, dict) else "bank"), problems)
    return write_bank(settings, doc, source, subjects, params)
