"""yt-dlp downloader: the real YoutubeDL with YoutubeIE._real_extract patched so that format and subtitle URLs point
at a loopback HTTP server that honours Range (the far end replaced, nothing else)."""
from __future__ import annotations

import os
from unittest import mock

import pytest
from yt_dlp.extractor.youtube import YoutubeIE

from jobs.screening.captions import parse_vtt
from jobs.sources.ytdlp import YtDlpDownloader
from tests.range_server import RangeServer

VID = "abcDEF123_-"
MP4 = os.urandom(300_000)
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello <c>world</c>\n\n00:00:02.500 --> 00:00:05.000\nsecond cue\n"


@pytest.fixture
def far():
    f = RangeServer({"/v.mp4": MP4, "/en.vtt": VTT,
                     "/auto.vtt": b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nauto\n"})
    yield f
    f.close()


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
    far.truncate_once = "/v.mp4"
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
