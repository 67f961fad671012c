"""yt-dlp downloader: the real YoutubeDL with YoutubeIE._real_extract patched so that format and subtitle URLs point
at a loopback HTTP server that honours Range (the far end replaced, nothing else)."""
from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from yt_dlp.extractor.youtube import YoutubeIE

from jobs.screening.captions import parse_vtt
from jobs.sources.ytdlp import YtDlpDownloader

VID = "abcDEF123_-"
MP4 = os.urandom(300_000)
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello <c>world</c>\n\n00:00:02.500 --> 00:00:05.000\nsecond cue\n"


class Far:
    """The loopback far end: files by path, a request log, and a switch that truncates the first transfer."""

    def __init__(self):
        self.files = {"/v.mp4": MP4, "/en.vtt": VTT, "/auto.vtt": b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nauto\n"}
        self.log: list[tuple[str, str | None]] = []
        self.truncate_once = False
        far = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                far.log.append((self.path, rng))
                body = far.files.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0] or 0)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if far.truncate_once and self.path == "/v.mp4" and start == 0:
                    far.truncate_once = False
                    self.wfile.write(part[: len(part) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(part)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def far():
    f = Far()
    yield f
    f.server.shutdown()


def _patched(far, video_path="/v.mp4", info_id=None):
    def fake(self, url):
        vid = self._match_id(url)
        return {"id": info_id or vid, "title": "t", "duration": 10,
                "formats": [{"format_id": "18", "url": far.url + video_path, "ext": "mp4", "height": 360,
                             "width": 640, "vcodec": "avc1.42001E", "acodec": "mp4a.40.2", "protocol": "http"}],
                "subtitles": {"en": [{"url": far.url + "/en.vtt", "ext": "vtt"}]},
                "automatic_captions": {"en": [{"url": far.url + "/auto.vtt", "ext": "vtt"}]}}
    return mock.patch.object(YoutubeIE, "_real_extract", fake)


def _dl():
    return YtDlpDownloader({"retries": 3, "retry_sleep": False, "socket_timeout": 5})


def test_download_mp4_and_uploaded_captions_then_archive_skips(far, tmp_path):
    with _patched(far):
        d = _dl().download(VID, tmp_path)
    assert d.error is None, d.error
    assert d.path == tmp_path / VID / f"{VID}.mp4" and d.path.read_bytes() == MP4
    assert d.captions_path is not None and parse_vtt(d.captions_path.read_text())[0]["text"] == "Hello world"
    assert ("/auto.vtt", None) not in far.log          # uploaded English subs win over automatic ones
    assert f"youtube {VID}" in (tmp_path / "archive.txt").read_text()
    n = len(far.log)
    with _patched(far):
        again = _dl().download(VID, tmp_path)
    assert len(far.log) == n                            # archive: nothing fetched on the rerun
    assert again.path == d.path and again.error is None


def test_auto_captions_when_no_uploaded_ones(far, tmp_path):
    del far.files["/en.vtt"]

    def fake(self, url):
        return {"id": self._match_id(url), "title": "t",
                "formats": [{"format_id": "18", "url": far.url + "/v.mp4", "ext": "mp4", "height": 360,
                             "vcodec": "avc1", "acodec": "mp4a", "protocol": "http"}],
                "automatic_captions": {"en": [{"url": far.url + "/auto.vtt", "ext": "vtt"}]}}
    with mock.patch.object(YoutubeIE, "_real_extract", fake):
        d = _dl().download(VID, tmp_path)
    assert d.captions_path is not None and "auto" in d.captions_path.read_text()


def test_404_is_an_error_not_a_crash(far, tmp_path):
    with _patched(far, video_path="/missing.mp4"):
        d = _dl().download(VID, tmp_path)
    assert d.path is None and "404" in d.error


def test_truncated_transfer_resumes_with_range(far, tmp_path):
    far.truncate_once = True
    with _patched(far):
        d = _dl().download(VID, tmp_path)
    assert d.path is not None and d.path.read_bytes() == MP4, d.error
    ranges = [r for p, r in far.log if p == "/v.mp4"]
    resumed = [int(r[6:].split("-")[0]) for r in ranges[1:] if r]
    assert ranges[0] is None and resumed and 0 < resumed[0] <= len(MP4) // 3, ranges   # resumed, not restarted


@pytest.mark.parametrize("bad", ["../../etc/pw", "..%2F..%2Fxx", "abc/../../x", "a" * 12, "", "abcdefghij\n"])
def test_hostile_id_is_refused_before_any_request(far, tmp_path, bad):
    media = tmp_path / "media"
    with _patched(far):
        d = _dl().download(bad, media)
    assert d.path is None and d.error.startswith("invalid_id")
    assert far.log == [] and not (tmp_path / "etc").exists()


def test_hostile_id_from_extractor_cannot_move_the_output(far, tmp_path):
    media = tmp_path / "media"
    with _patched(far, info_id="../../../pwned"):
        d = _dl().download(VID, media)
    assert d.path is not None and d.path.parent == media / VID
    assert not any(p.name.startswith("pwned") for p in tmp_path.rglob("*"))
