"""The bad-input sweep, part 2: files and captions through screen's download phase (real yt-dlp, far end a loopback
server reached through yt-dlp's YouTube extractor, as tests/integration/test_screen_ytdlp.py does), and model replies
through generate (the real `openai` client against a loopback server, configured as the LLM fault suite is).

One batch per stage over the sweep's warehouse (conftest.py), in subject `medicine` (part 1 uses the others); each
case is its own test that records its row: a clear error naming the item, a quarantine row, nothing already lost.
"""
from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from fractions import Fraction
from pathlib import Path
from unittest import mock

import av
import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.integration.test_generate import INJECTION
from tests.integration.test_llm_layer import completion
from tests.integration.test_screen_ytdlp import make_mp4
from tests.reliability import sweep
from tests.reliability.table import check
from tests.reliability.test_llm_faults import write_config

SUBJECT = "medicine"


def long_mp4(path: Path, seconds: int = 31 * 60) -> bytes:
    """A valid, tiny H.264 file that lasts `seconds` (one frame every 10 s)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(1, 10))
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(seconds // 10 + 1):
            img = np.full((32, 32, 3), (i * 10) % 255, dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path.read_bytes()


def kp_of(settings) -> str:
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        return wh.query("SELECT kp_id FROM knowledge_points WHERE subject_id = ?", [SUBJECT])["kp_id"][0]


# ---------------------------------------------------------------- screen: files and captions (yt-dlp)

VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nthe heart rate is sixty over the R-R interval\n"
# case -> (video id, media bytes or None (not served), captions bytes or None, expected reason, item is the file)
FILES = {"zero-length file": ("zerolength1", b"", VTT, "download_failed", False),
         "truncated file": ("truncated01", "truncated", VTT, "corrupt_media", True),
         "non-video file": ("notavideo01", b"lecture notes, not a video\n" * 40, VTT, "corrupt_media", True),
         "over-30-minute file (metadata said less)": ("longvideo01", "long", VTT, "media_too_long", True),
         "missing captions (none downloaded)": ("capsmissing", "good", None, "missing_captions", False),
         "captions that are not WebVTT": ("badcaptions", "good", b"<html>captions moved</html>", "bad_captions", True),
         "hostile id in videos: ../ path": ("../../x/y.z", "good", VTT, "download_invalid_id", False),
         "hostile id in videos: trailing newline": ("medvideo001\n", "good", VTT, "download_invalid_id", False),
         "hostile id in videos: NUL": ("medvid\x00oops", "good", VTT, "download_invalid_id", False)}
GOOD_ID = "medgood0001"


@pytest.fixture(scope="module")
def screened(sweep_world, tmp_path_factory, httpserver_module):
    from jobs import screen
    from warehouse import Warehouse
    from yt_dlp.extractor.youtube import YoutubeIE
    settings, _ = sweep_world
    server, root = httpserver_module, tmp_path_factory.mktemp("far-media")
    good = make_mp4(root / "good.mp4")
    media = {"good": good, "truncated": good[: len(good) // 3], "long": long_mp4(root / "long.mp4")}
    served = {GOOD_ID: (good, VTT)} | {vid: (media.get(m, m) if isinstance(m, str) else m, c)
                                       for vid, m, c, _, _ in FILES.values()}
    for vid, (mp4, vtt) in served.items():
        if re.fullmatch(r"[A-Za-z0-9_-]{11}", vid):
            server.expect_request(f"/{vid}.mp4").respond_with_data(mp4, content_type="video/mp4")
            if vtt is not None:
                server.expect_request(f"/{vid}.vtt").respond_with_data(vtt, content_type="text/vtt")

    def extract(self, url):     # the far end: YouTube's watch page answered by the loopback server
        vid = self._match_id(url)
        subs = {"en": [{"url": server.url_for(f"/{vid}.vtt"), "ext": "vtt"}]} if served[vid][1] is not None else {}
        return {"id": vid, "title": vid, "subtitles": subs, "formats": [
            {"format_id": "18", "url": server.url_for(f"/{vid}.mp4"), "ext": "mp4", "height": 48, "vcodec": "avc1",
             "acodec": "none"}]}

    kp = kp_of(settings)
    with Warehouse(settings) as wh:
        wh.write("videos", [{"video_id": v, "subject_id": SUBJECT, "kp_id": kp, "title": f"ECG lecture {v!r}",
                             "description": "", "eligible": True} for v in served], "sweep-seed")
    before = sweep.keys(settings)
    s = dataclasses.replace(settings, search_source="youtube", extra={
        "download": {"retries": 0, "retry_sleep": False, "socket_timeout": 5}})
    with mock.patch.object(YoutubeIE, "_real_extract", extract):
        out = screen.run(s, [SUBJECT], {"phase": "download"})
    with Warehouse(settings, read_only=True) as wh:
        checks = {r["video_id"]: r for r in wh.query("SELECT * FROM screening_checks WHERE check_name = 'media'")
                  .to_dicts()}
    return out, checks, sweep.quarantine(settings, "screen"), sweep.lost(before, sweep.keys(settings))


@pytest.fixture(scope="module")
def httpserver_module():
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize("case", list(FILES))
def test_bad_file_or_captions(screened, case):
    out, checks, q, lost = screened
    vid, _, _, reason, by_file = FILES[case]
    rows = [r for item, r in q.items() if (vid in item if by_file else item == sweep.stored(vid))]
    row = rows[0] if rows else None
    media_failed = reason in ("missing_captions", "bad_captions") or (checks.get(sweep.stored(vid)) or {}).get(
        "passed") is False
    check(f"screen: {case}", f"quarantine '{reason}' naming the item; the run goes on; nothing lost",
          f"{row and row['reason']}: {(row or {}).get('detail', '')[:100]!r}",
          bool(row) and row["reason"] == reason and bool(row["detail"]) and media_failed
          and checks[GOOD_ID]["passed"] is True and not lost)


# ---------------------------------------------------------------- generate: model replies and captions


def _fenced_only(user_text: str, needle: str) -> bool:
    """`needle` occurs only inside ```untrusted-data fences, and no fence is closed early by the data."""
    blocks = re.findall(r"```untrusted-data\n(.*?)\n```", user_text, re.S)
    inside = sum(b.count(needle) for b in blocks)
    return inside > 0 and inside == user_text.count(needle) and all("```" not in b for b in blocks)


class Replies:
    """The far end of the LLM: one behaviour per video, chosen from the title the request quotes."""

    def __init__(self):
        self.injection_fenced: list[bool] = []

    def __call__(self, request: Request) -> Response:
        body = request.get_json()
        user = json.dumps(body["messages"][-1]["content"])
        text = "\n".join(p.get("text", "") for p in body["messages"][-1]["content"]) if isinstance(
            body["messages"][-1]["content"], list) else body["messages"][-1]["content"]
        title = re.search(r"Lecture (\w+)", user).group(1)
        items = [{"skill": s, "problem_type": "multiple choice", "question": f"In lecture {title}, which {s}?",
                  "options": ["A. one", "B. two", "C. three", "D. four"], "answer": "B",
                  "think": "Step 1: the ECG shows an R-R interval of 1 s. Step 2: so 60 bpm."}
                 for s in ("basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning")]
        if title == "malformed":
            content = '{"items": [{"skill": "basic_video_reasoning", "question": '      # cut off mid-object
        elif title == "wrongschema":
            content = json.dumps({"questions": ["what?"], "note": "not the schema asked for"})
        elif title == "oversized":
            items[1]["question"] = "Which of these " + "very " * 20_000 + "long words?"
            content = json.dumps({"items": items})
        elif title == "injected":
            self.injection_fenced.append(_fenced_only(text, "Ignore previous instructions")
                                         and "Ignore previous instructions" not in json.dumps(body["messages"][0]))
            content = json.dumps({"items": []})         # a gullible model does what the captions asked
        else:
            content = json.dumps({"items": items})
        return Response(json.dumps(completion(content)), 200, content_type="application/json")


GEN = {"malformed LLM reply (cut-off JSON)": ("malformed", "generation_failed", "medmalform1"),
       "LLM reply of the wrong schema": ("wrongschema", "generation_failed", "medschema01"),
       "oversized field in an LLM item (100 kB question)": ("oversized", "invalid_item", "medoversize"),
       "prompt injection in captions (model obeys it)": ("injected", "no_items", "medinjected")}


@pytest.fixture(scope="module")
def generated(sweep_world, tmp_path_factory, httpserver_module):
    from jobs import generate
    from warehouse import Warehouse, stage_run
    settings, _ = sweep_world
    replies = Replies()
    httpserver_module.expect_request("/v1/chat/completions", method="POST").respond_with_handler(replies)
    root = tmp_path_factory.mktemp("llm")
    extra = tomllib.loads(write_config(root, httpserver_module.url_for("/v1")).read_text())
    kp = kp_of(settings)
    videos = {vid: title for title, _, vid in GEN.values()} | {"medcontrol1": "control"}
    with Warehouse(settings) as wh, stage_run(wh, "sweep-seed") as r:
        r.write("videos", [{"video_id": v, "subject_id": SUBJECT, "kp_id": kp, "title": f"Lecture {t}",
                            "description": "An ECG lecture.", "eligible": True} for v, t in videos.items()])
        r.write("screening", [{"video_id": v, "subject_id": SUBJECT, "kp_id": kp, "decision": "keep"}
                              for v in videos])
        r.write("captions", [{"video_id": v, "subject_id": SUBJECT, "cue_index": 0, "start_s": 0.0, "end_s": 2.0,
                              "text": INJECTION if t == "injected" else "The R-R interval is one second."}
                             for v, t in videos.items()], scope={"video_id": list(videos)})
    before = sweep.keys(settings)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEOKR_TEST_LLM_KEY", "sk-sweep-not-a-secret")
        out = generate.run(dataclasses.replace(settings, extra=extra), [SUBJECT])
    with Warehouse(settings, read_only=True) as wh:
        cands = wh.query("SELECT video_id, count(*) n FROM candidates GROUP BY 1").rows()
    return out, dict(cands), sweep.quarantine(settings, "generate"), replies, sweep.lost(before, sweep.keys(settings))


@pytest.mark.parametrize("case", list(GEN))
def test_bad_model_reply(generated, case):
    out, cands, q, replies, lost = generated
    _, reason, vid = GEN[case]
    row = next((r for item, r in q.items() if item.split("#")[0] == vid), None)
    extra = ""
    ok = True
    if reason == "no_items":       # and the request kept the injection inside the fenced data block
        extra = f"; injection fenced in {sum(replies.injection_fenced)}/{len(replies.injection_fenced)} requests"
        ok = bool(replies.injection_fenced) and all(replies.injection_fenced)
    if reason == "invalid_item":   # the item is dropped, the video's other items kept
        extra = f"; {cands.get(vid, 0)} other items kept"
        ok = cands.get(vid) == 2
    check(f"generate: {case}", f"quarantine '{reason}' naming the item; the run goes on; nothing lost",
          f"{row and row['item']!r} {row and row['reason']}: {(row or {}).get('detail', '')[:70]!r}{extra}",
          ok and bool(row) and row["reason"] == reason and bool(row["detail"]) and cands.get("medcontrol1") == 3
          and vid not in (cands if reason == "generation_failed" else {}) and not lost)
