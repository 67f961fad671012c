"""The layout holds: stages alone at the top of jobs/, imports point one way (dags -> jobs -> warehouse, settings a
leaf, the CLI the top floor), no import circles (lazy imports inside functions count too), and only jobs/media
decodes video."""
from __future__ import annotations

import ast
from pathlib import Path

from jobs.stages import MODULES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("videokr", "warehouse", "jobs", "dags", "plugins", "train")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


MODS = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules `name` imports anywhere in its file (top level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in MODS:
                t = t.rpartition(".")[0]
            if t and t != name and t.split(".")[0] in PACKAGES:
                found.add(t)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODS.items()}


def _reaches(a: str, b: str) -> bool:
    seen, todo = set(), [a]
    while todo:
        m = todo.pop()
        for n in GRAPH.get(m, ()):
            if n == b:
                return True
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return False


def _is_package_init(m: str) -> bool:
    return MODS[m].name == "__init__.py"


def test_no_import_circles():
    circles = sorted({tuple(sorted((a, b))) for a, deps in GRAPH.items() for b in deps
                      if not _is_package_init(b) and not _is_package_init(a) and _reaches(b, a)})
    assert not circles, f"import circles: {circles}"


def test_imports_point_one_way():
    bad = []
    for m, deps in GRAPH.items():
        top = m.split(".")[0]
        for d in deps:
            dtop = d.split(".")[0]
            if dtop == "dags" and top != "dags":
                bad.append((m, d, "nothing imports dags"))
            if d.startswith("videokr.cli") and not m.startswith("videokr.cli"):
                bad.append((m, d, "the CLI is the top floor"))
            if m == "videokr.settings":
                bad.append((m, d, "settings is a leaf"))
            if top == "warehouse" and dtop in ("jobs", "train", "plugins"):
                bad.append((m, d, "warehouse is the bottom layer"))
            if top == "jobs" and dtop in ("train", "plugins"):
                bad.append((m, d, "jobs never imports train or plugins"))
    assert not bad, bad


def test_jobs_never_import_airflow():
    offenders = [m for m, p in MODS.items() if m.startswith("jobs") and any(
        isinstance(n, (ast.Import, ast.ImportFrom)) and any(
            (getattr(n, "module", None) or a.name).split(".")[0] == "airflow" for a in n.names)
        for n in ast.walk(ast.parse(p.read_text())))]
    assert not offenders, offenders


def test_only_stages_stand_at_the_top_of_jobs():
    stages = {mod.split(".")[1] for mod in MODULES.values() if mod.startswith("jobs.")}
    # card: `videokr card`, the dataset card; evalset: `videokr evalset build`, the curated evaluation set
    allowed = stages | {"card", "evalset", "stages", "scope", "__init__"}
    top = {p.stem for p in (ROOT / "jobs").glob("*.py")} | {p.name for p in (ROOT / "jobs").iterdir()
                                                            if p.is_dir() and (p / "__init__.py").exists()}
    wings = {"media", "dedup", "eval_curation", "kb", "llm", "prompts", "review", "screening", "sources",
             "verification"}
    assert top - allowed - wings == set(), f"not a stage: {sorted(top - allowed - wings)}"


def test_only_jobs_media_decodes_video():
    """PyAV and OpenCV video reading live in jobs/media (renderers of synthetic videos only write)."""
    readers = []
    for m, p in MODS.items():
        if m.startswith(("jobs.media", "jobs.sources.sample")):
            continue
        src = p.read_text()
        if ("av.open(" in src and (".decode(" in src or ".demux(" in src)) or "cv2.VideoCapture" in src:
            readers.append(m)
    assert not readers, f"video decoded outside jobs/media: {readers}"
