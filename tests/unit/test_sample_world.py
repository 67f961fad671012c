"""Sample world (stand-in library): determinism, decoding, captions without answers, scene records, offline search.

Fast: renders only a couple of short videos; the search tests use a library of the same specs whose scene records
and metadata are computed without rendering (the real planning and metadata code, no mp4).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import pytest
import yaml

from jobs.sources.base import SKILLS
from jobs.sources.sample.captions import check_captions, cue_texts, narration, vtt_text
from jobs.sources.sample.encode import reencode
from jobs.sources.sample.library import Library, SampleItem
from jobs.sources.sample.metadata import parse_iso_duration, video_item
from jobs.sources.sample.planted import FLAWS, planted_specs, with_flaws
from jobs.sources.sample.render import plan_scene, render_benchmark_lecture, render_item
from jobs.sources.sample.search import SampleDownloader, SampleSearch
from jobs.sources.sample.spec import GOP_SECONDS, kp_specs, load_scene_kps
from videokr.settings import DATA_DIR, Settings

SEED = 11
ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def sha(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def spec_by_key(key: str, seed: int = SEED):
    return next(s for s in with_flaws(kp_specs(seed))[0] if s.key == key)


@pytest.fixture(scope="module")
def paper_library(tmp_path_factory) -> Library:
    """Every regular and planted spec with its scene record and metadata, nothing rendered."""
    regular, manifest = with_flaws(kp_specs(SEED))
    plants = planted_specs(SEED, Settings(home=tmp_path_factory.mktemp("h")).benchmarks_dir)
    items = []
    for spec, f in [(s, None) for s in regular] + plants:
        scene = plan_scene(spec)
        scene.pop("_notes")
        meta = video_item(spec, scene["duration_s"], spec.options.get("captions", True), "A lecture.")
        items.append(SampleItem(spec.key, spec.video_id, meta, None, None, scene, spec.planted, f))
    manifest += [{"video_id": p.video_id, "kind": p.planted, "expected_filter": f} for p, f in plants]
    return Library(tmp_path_factory.mktemp("lib"), items, manifest, [])


# ------------------------------------------------------------------ rendering


def test_same_seed_gives_identical_files(tmp_path):
    spec = spec_by_key("kp/projectile/2")
    a = render_item(spec, tmp_path / "a")
    b = render_item(spec, tmp_path / "b")
    assert (b["mp4"], b["vtt"]) == (a["mp4"], a["vtt"])
    for name in (a["mp4"], a["vtt"], "item.json"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name), name
    other = spec_by_key("kp/projectile/2", seed=SEED + 1)
    c = render_item(other, tmp_path / "c")
    assert c["video_id"] != a["video_id"]
    assert sha(tmp_path / "c" / c["mp4"]) != sha(tmp_path / "a" / a["mp4"])


def test_video_decodes_with_declared_duration_fps_and_gop(tmp_path):
    spec = spec_by_key("kp/graph_search/4")
    rec = render_item(spec, tmp_path)
    scene = rec["scene"]
    with av.open(str(tmp_path / rec["mp4"])) as c:
        vs = c.streams.video[0]
        frames = [(f.key_frame, f.width, f.height) for f in c.decode(vs)]
        assert vs.codec_context.name == "h264"
        assert float(vs.average_rate) == scene["fps"] == 8.0
    assert len(frames) == round(scene["duration_s"] * scene["fps"])
    assert 30 <= scene["duration_s"] <= 120
    assert {(w, h) for _, w, h in frames} == {(640, 360)}
    gop = int(GOP_SECONDS * scene["fps"])
    assert [i for i, (k, _, _) in enumerate(frames) if k] == list(range(0, len(frames), gop))
    assert parse_iso_duration(rec["metadata"]["contentDetails"]["duration"]) == scene["duration_s"]


def test_reencoded_copy_is_deterministic_resized_and_trimmed(tmp_path):
    rec = render_item(spec_by_key("kp/ecg/1"), tmp_path / "orig")
    src = tmp_path / "orig" / rec["mp4"]
    n1 = reencode(src, tmp_path / "c1.mp4", 3.0, 480, 270, 150_000)
    n2 = reencode(src, tmp_path / "c2.mp4", 3.0, 480, 270, 150_000)
    assert n1 == n2 == round((rec["scene"]["duration_s"] - 3.0) * 8)
    assert sha(tmp_path / "c1.mp4") == sha(tmp_path / "c2.mp4") != sha(src)
    with av.open(str(tmp_path / "c1.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (480, 270)


def test_benchmark_lecture_has_keyframe_every_gop(tmp_path):
    p = render_benchmark_lecture(tmp_path / "lec.mp4", seconds=8, gop_seconds=2.0, seed=3, fps=10.0)
    with av.open(str(p)) as c:
        keys = [f.key_frame for f in c.decode(c.streams.video[0])]
    assert len(keys) == 80
    assert [i for i, k in enumerate(keys) if k] == [0, 20, 40, 60]


# ------------------------------------------------------------------ scene records and captions


def test_every_scene_kp_has_a_video_and_exists_in_the_knowledge_bank(paper_library):
    kps = {(st, kp["name"]) for st, rows in load_scene_kps().items() for kp in rows}
    assert len(kps) == 45 and len({st for st, _ in kps}) == 9
    have = {(it.scene["scene_type"], it.scene["kp"]["name"]) for it in paper_library.items if it.planted is None}
    assert have == kps
    bank = (DATA_DIR / "knowledge_bank.yaml").read_text()
    for _, name in kps:
        assert f"name: {name}" in bank, name


def test_scene_records_have_three_skills_and_enough_distractors(paper_library):
    for it in paper_library.items:
        s = it.scene
        json.dumps(s)
        assert set(s) >= {"video_id", "scene_type", "kp", "duration_s", "fps", "width", "height", "params",
                          "events", "facts", "unsafe_frames"}
        assert s["video_id"] == it.video_id and len(it.video_id) == 11 and set(it.video_id) <= ID_CHARS
        if s["scene_type"] == "offtopic":
            continue
        assert {f["skill"] for f in s["facts"]} == set(SKILLS), it.key
        for f in s["facts"]:
            assert len(f["distractors"]) >= 9 and f["answer"] not in f["distractors"], (it.key, f["fact_id"])
            assert f["steps"] and all(st["basis"] in ("video", "knowledge") for st in f["steps"])
            assert all(0 <= a <= b <= s["duration_s"] for a, b in f["evidence"]), (it.key, f["fact_id"])


def test_no_caption_contains_its_scene_answers(paper_library):
    flagged = 0
    for it in paper_library.items:
        s = it.scene
        spoilers = [f["answer"] for f in s["facts"] if f["flaw"] == "answerable_from_text"]
        flagged += len(spoilers)
        vtt = vtt_text(narration(s["scene_type"], s["kp"], spoilers), s["duration_s"])
        assert check_captions(vtt, s["facts"]) == [], it.key
        text = " ".join(cue_texts(vtt)).lower()
        for f in s["facts"]:
            assert (f["answer"].lower() in text) == (f["flaw"] == "answerable_from_text"), (it.key, f["fact_id"])
    assert flagged == sum(1 for *_, flaw in FLAWS if flaw == "answerable_from_text")


def test_every_planted_item_is_in_the_manifest(paper_library):
    allowed = {"collect:license", "collect:duration", "collect:captions", "screen:text_relevance",
               "screen:moderation", "screen:corrupt", "decontaminate:phash", "decontaminate:youtube_id",
               "verify:video_dependency", "verify:self_consistency", "verify:cot_validation"}
    listed = {(m["video_id"], m["kind"]) for m in paper_library.manifest}
    for it in paper_library.items:
        if it.planted:
            assert (it.video_id, it.planted) in listed
        for f in it.scene["facts"]:
            if f["flaw"]:
                assert (it.video_id, f"flaw:{f['flaw']}") in listed
    assert {m["expected_filter"] for m in paper_library.manifest} == allowed
    by_kind = {m["kind"]: m["video_id"] for m in paper_library.manifest}
    meta = {it.video_id: it.metadata for it in paper_library.items}
    assert meta[by_kind["non_cc_license"]]["status"]["license"] == "youtube"
    assert parse_iso_duration(meta[by_kind["over_30_minutes"]]["contentDetails"]["duration"]) > 1800
    assert meta[by_kind["no_captions"]]["contentDetails"]["caption"] == "false"
    yt = by_kind["benchmark_youtube_id"]
    assert yt in (Path(Settings(home=Path("/tmp")).benchmarks_dir) / "mmvu" / "validation.json").read_text()


# ------------------------------------------------------------------ offline search and download


def kp_keywords(name: str) -> list[str]:
    for disc in yaml.safe_load((DATA_DIR / "knowledge_bank.yaml").read_text())["disciplines"]:
        for subj in disc["subjects"]:
            for course in subj["courses"]:
                for lec in course["lectures"]:
                    for kp in lec["knowledge_points"]:
                        if kp["name"] == name:
                            return kp["keywords"]
    raise KeyError(name)


def test_search_filters_like_youtube_when_asked(paper_library):
    by_kind = {m["kind"]: m["video_id"] for m in paper_library.manifest}
    q_lic = kp_keywords("Period of a simple pendulum")[0]
    q_cap = "market equilibrium"
    loose = SampleSearch(paper_library)
    strict = SampleSearch(paper_library, video_license="creativeCommon", video_caption="closedCaption")
    assert by_kind["non_cc_license"] in loose.ranked(q_lic)
    assert by_kind["no_captions"] in loose.ranked(q_cap)
    assert by_kind["non_cc_license"] not in strict.ranked(q_lic) and strict.ranked(q_lic)
    assert by_kind["no_captions"] not in strict.ranked(q_cap) and strict.ranked(q_cap)
    long = SampleSearch(paper_library, video_duration="long").ranked("titration curve")
    assert long == [by_kind["over_30_minutes"]]
    assert by_kind["over_30_minutes"] in SampleSearch(paper_library).ranked("titration curve")
    with pytest.raises(ValueError):
        SampleSearch(paper_library, video_license="cc")


def test_off_topic_plants_are_found_by_their_topic_keywords(paper_library):
    search = SampleSearch(paper_library)
    for kind, kp in [("offtopic_cooking", "Bubble sort"), ("offtopic_gaming", "Period of a simple pendulum"),
                     ("offtopic_vlog", "Shift in demand")]:
        vid = next(m["video_id"] for m in paper_library.manifest if m["kind"] == kind)
        assert any(vid in search.ranked(q) for q in kp_keywords(kp)), kind


def test_search_pages_and_units(paper_library):
    search = SampleSearch(paper_library)
    query = "sort algorithm"
    full = search.ranked(query)
    assert len(full) > 5
    got, token, pages = [], None, 0
    while True:
        page = search.search(query, token, max_results=2)
        assert page.units == 100 and len(page.video_ids) <= 2
        got += page.video_ids
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert got == full and pages == (len(full) + 1) // 2
    with pytest.raises(ValueError):
        search.search("pendulum", search.search(query, None, 2).next_page_token)
    items, units = search.details(full[:3] + ["notAVideo00"])
    assert units == 1 and [i["id"] for i in items] == full[:3]
    with pytest.raises(ValueError):
        search.details(full * 51)


def test_downloader_copies_files_named_by_id(tmp_path):
    spec = spec_by_key("kp/sorting/4")
    rec = render_item(spec, tmp_path / "cache")
    d = tmp_path / "cache"
    item = SampleItem(spec.key, spec.video_id, rec["metadata"], d / rec["mp4"], d / rec["vtt"], rec["scene"], None)
    lib = Library(tmp_path, [item], [], [])
    dl = SampleDownloader(lib).download(spec.video_id, tmp_path / "out")
    assert dl.error is None and dl.path.name == f"{spec.video_id}.mp4" and dl.captions_path.name.endswith(".en.vtt")
    assert sha(dl.path) == sha(d / rec["mp4"])
    assert SampleDownloader(lib).download("missing0000", tmp_path / "out").error


def test_scene_records_do_not_depend_on_python_hash_seed():
    """Scene records (and so item.json) must not follow set/dict-of-str iteration order."""
    import subprocess
    import sys
    code = ("import json; from jobs.sources.sample.planted import with_flaws; "
            "from jobs.sources.sample.spec import kp_specs; from jobs.sources.sample.render import plan_scene; "
            f"print(json.dumps([plan_scene(s) for s in with_flaws(kp_specs({SEED}))[0]], sort_keys=True))")
    outs = {subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": str(h), "PATH": "/usr/bin"},
                           capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]).stdout
            for h in (1, 2)}
    assert len(outs) == 1


def test_metadata_is_shaped_like_videos_list_items(paper_library):
    for it in paper_library.items:
        m = it.metadata
        assert m["kind"] == "youtube#video" and m["id"] == it.video_id
        sn = m["snippet"]
        assert sn["title"] and sn["description"] and sn["channelTitle"]
        assert len(sn["channelId"]) == 24 and sn["channelId"].startswith("UC")
        assert sn["publishedAt"].endswith("Z")
        assert m["contentDetails"]["caption"] in ("true", "false")
        assert m["status"]["license"] in ("creativeCommon", "youtube")
        parse_iso_duration(m["contentDetails"]["duration"])
