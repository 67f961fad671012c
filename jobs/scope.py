"""Stage scope: which subjects a run covers, checked against the knowledge bank before any work."""
from __future__ import annotations

from videokr.settings import Settings
from warehouse import Warehouse


class UnknownSubjects(ValueError):
    pass


def known_subjects(settings: Settings, stage: str) -> list[str]:
    if stage == "knowledge_bank":  # the bank file, not the warehouse, defines the subjects of this stage
        from jobs.kb.bank import flatten, load_bank
        return [r["subject_id"] for r in flatten(load_bank(settings.knowledge_bank))["subjects"]]
    try:
        with Warehouse(settings, read_only=True) as wh:
            return wh.query("SELECT subject_id FROM subjects ORDER BY position")["subject_id"].to_list()
    except Exception as exc:  # noqa: BLE001 - no warehouse yet (a fresh home): it knows no subject
        if "unable to open" not in str(exc) and "does not exist" not in str(exc):
            raise
        return []


def check_subjects(stage: str, subjects: list[str], settings: Settings | None = None) -> list[str]:
    """The subjects to process (as given); raises with a clear message when any is not in the knowledge bank."""
    if not subjects:
        return []
    known = known_subjects(settings or Settings.load(), stage)
    unknown = sorted(set(subjects) - set(known))
    if unknown:
        raise UnknownSubjects(f"{stage}: unknown subject(s) {unknown}; the knowledge bank has: {', '.join(known)}")
    return list(subjects)


# Subjects a mapped stage has work (or rows to clean up) for: its input rows, and its own earlier output. A subject
# with neither would be an empty task (a task start, a warehouse connection and a `runs` row, for nothing).
WORK = {"generate": "SELECT subject_id FROM screening WHERE decision = 'keep' UNION SELECT subject_id FROM candidates",
        "verify": "SELECT subject_id FROM candidates UNION SELECT subject_id FROM verified_qa"}


def partitions(stage: str, subjects: list[str], settings: Settings | None = None) -> list[list[str]]:
    """Work partitions for mapped tasks: the job's own `partitions` when it has one (e.g. only subjects with
    videos), else one per subject in scope (all subjects when the scope is empty) that has work (WORK)."""
    from jobs.stages import job
    mod = job(stage)
    settings = settings or Settings.load()
    if hasattr(mod, "partitions"):
        return mod.partitions(settings=settings, subjects=subjects or None)
    scope = subjects or known_subjects(settings, stage)
    if stage in WORK:
        with Warehouse(settings, read_only=True) as wh:
            have = set(wh.query(WORK[stage])["subject_id"].to_list())
        scope = [s for s in scope if s in have]
    return [[s] for s in scope]
