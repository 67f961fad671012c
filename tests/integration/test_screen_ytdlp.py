"""screen with the real downloader (yt-dlp, far end = loopback server via a patched YoutubeIE._real_extract) and the
real Azure client (far end = pytest-httpserver): decisions, reasons, the view, and a rerun that pays nothing twice."""
from __future__ import annotations

import json
from unittest import mock

import av
import numpy as np
import pytest
from werkzeug import Response
from yt_dlp.extractor.youtube import YoutubeIE

from jobs import screen

GOOD, OFF, BAD, UNSAFE = "pendulum001", "cakerecipe1", "truncated01", "unsafevid01"


def make_mp4(path, seconds=2, fps=10):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(seconds * fps):
            img = np.full((48, 64, 3), (i * 10) % 255, dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path.read_bytes()


@pytest.fixture
def far(httpserver, tmp_path):
    mp4 = make_mp4(tmp_path / "v.mp4")
    files = {f"/{GOOD}.mp4": mp4, f"/{OFF}.mp4": mp4, f"/{UNSAFE}.mp4": mp4, f"/{BAD}.mp4": mp4[: len(mp4) // 3]}
    caps = {GOOD: "the pendulum swings and its period depends on the length of the string",
            OFF: "now mix the flour with sugar and bake the cake in the oven",
            UNSAFE: "the pendulum period depends on length", BAD: "pendulum"}
    for vid, text in caps.items():
        files[f"/{vid}.vtt"] = f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n{text}\n".encode()
    for path, body in files.items():
        httpserver.expect_request(path).respond_with_data(body, content_type="application/octet-stream")

    def moderation(req):
        body = json.loads(req.data)
        sev = 6 if "graphic" in body.get("text", "") else 0
        return Response(json.dumps({"categoriesAnalysis": [{"category": "Violence", "severity": sev}]}),
                        content_type="application/json")
    httpserver.expect_request("/contentsafety/text:analyze").respond_with_handler(moderation)
    httpserver.expect_request("/contentsafety/image:analyze").respond_with_json(
        {"categoriesAnalysis": [{"category": "Violence", "severity": 0}]})

    def extract(self, url):
        vid = self._match_id(url)
        return {"id": vid, "title": vid, "formats": [{"format_id": "18", "url": httpserver.url_for(f"/{vid}.mp4"),
                                                      "ext": "mp4", "height": 48, "vcodec": "avc1", "acodec": "none"}],
                "subtitles": {"en": [{"url": httpserver.url_for(f"/{vid}.vtt"), "ext": "vtt"}]}}
    with mock.patch.object(YoutubeIE, "_real_extract", extract):
        yield httpserver


def seed(wh):
    wh.write("knowledge_points", [{"kp_id": "kp-p", "subject_id": "physics", "name": "Period of a simple pendulum",
                                   "statement": "T = 2π√(L/g) for small amplitudes.", "keywords": ["pendulum"]}], "seed")
    titles = {GOOD: "Simple pendulum period experiment", OFF: "Chocolate cake recipe",
              BAD: "Pendulum period lecture", UNSAFE: "Pendulum period with graphic violence"}
    wh.write("videos", [{"video_id": v, "kp_id": "kp-p", "subject_id": "physics", "title": t, "description": "",
                         "eligible": True} for v, t in titles.items()], "seed")


def test_screen_with_ytdlp_and_azure(far, home, monkeypatch, wh):
    from videokr.settings import Settings

    monkeypatch.setenv("VIDEOKR_AZURE_CONTENT_SAFETY_KEY", "k")
    monkeypatch.setenv("VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT", far.url_for("").rstrip("/"))
    settings = Settings.load(search_source="youtube", moderation_source="azure")
    settings.extra = {"download": {"retries": 1, "retry_sleep": False},
                      "moderation": {"retries": 1}, "screen": {"text_threshold": 0.35}}
    seed(wh)
    s0 = screen.run(settings, ["physics"], {})          # no visual judge here: fail closed, the good video waits
    assert s0["visual_relevance"] == "unavailable" and s0["require_visual"] is True
    assert wh.query("SELECT reasons FROM screening WHERE video_id = ?", [GOOD]).item().to_list() == [
        "visual_relevance_unchecked"]
    settings.extra["screen"]["require_visual"] = False  # explicitly: keep on text relevance alone
    s1 = screen.run(settings, ["physics"], {})
    rows = {r["video_id"]: r for r in wh.query("SELECT * FROM screening").to_dicts()}
    assert rows[GOOD]["decision"] == "keep" and rows[GOOD]["moderation"] == "pass", rows[GOOD]
    assert rows[OFF]["reasons"] == ["text_relevance"] and rows[OFF]["text_relevance"] < 0.35
    assert rows[BAD]["reasons"] == ["corrupt"]
    assert rows[UNSAFE]["reasons"] == ["moderation"] and rows[UNSAFE]["moderator"] == "azure"
    assert s1["visual_relevance"] in ("judged", "unavailable")
    assert wh.query(f"SELECT text FROM captions WHERE video_id = '{GOOD}'").item().startswith("the pendulum")
    assert wh.query("SELECT count(*) FROM quarantine WHERE reason = 'corrupt_media'").item() == 1
    view = {(r["reason"]): r["videos"] for r in wh.query("SELECT * FROM v_screening_reasons").to_dicts()}
    assert view == {"kept": 1, "text_relevance": 1, "corrupt": 1, "moderation": 1}

    n_requests = len(far.log)
    s2 = screen.run(settings, ["physics"], {})
    assert len(far.log) == n_requests                   # nothing downloaded or moderated again
    assert sum(s2["rows"].values()) == 0, s2["rows"]
