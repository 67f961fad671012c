"""youtube_id(url): every URL shape, never raises; every URL in the real benchmark files yields an 11-char id."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.decontaminate import youtube_id, youtube_ids
from videokr.settings import Settings

VID = "dQw4w9WgXcQ"


@pytest.mark.parametrize("url", [
    f"https://www.youtube.com/watch?v={VID}",
    f"http://youtube.com/watch?v={VID}",
    f"https://m.youtube.com/watch?v={VID}",
    f"https://music.youtube.com/watch?v={VID}&feature=share",
    f"www.youtube.com/watch?v={VID}",
    f"youtube.com/watch?v={VID}",
    f"  https://www.youtube.com/watch?v={VID}  ",
    f"https://www.youtube.com/watch?v={VID}\n",
    f"https://www.youtube.com/watch?v={VID}&t=21s",
    f"https://www.youtube.com/watch?v={VID}&list=PL_R7YJHCNd4eSlkX9YX0V4_UcWYCeMpk7&index=16",
    f"https://www.youtube.com/watch?v={VID}&ab_channel=KhanAcademy",
    f"https://www.youtube.com/watch?v={VID}&t=70s&ab_channel=BristolNeuroscientists",
    f"https://www.youtube.com/watch?v={VID}&pp=ygUib3JnYW5pYyBjaGVtaXN0cnk%3D",
    f"https://www.youtube.com/watch?feature=player_embedded&v={VID}",
    f"https://www.youtube.com/watch?v={VID}#t=30",
    f"https://youtu.be/{VID}",
    f"https://youtu.be/{VID}?si=AbCdEfGh12345678",
    f"https://youtu.be/{VID}?t=42",
    f"https://youtu.be/{VID}?feature=shared",
    f"https://www.youtube.com/embed/{VID}",
    f"https://www.youtube.com/embed/{VID}?start=10&autoplay=1",
    f"https://www.youtube-nocookie.com/embed/{VID}",
    f"https://www.youtube.com/shorts/{VID}",
    f"https://youtube.com/shorts/{VID}?feature=share",
    f"https://www.youtube.com/live/{VID}",
    f"https://www.youtube.com/live/{VID}?si=xyz",
    f"https://www.youtube.com/v/{VID}?version=3",
    f"HTTPS://WWW.YOUTUBE.COM/watch?v={VID}",
    f"https://www.youtube.com/watch?v={VID}a",         # VideoMMMU typo: 12 characters, YouTube plays the first 11
])
def test_shapes(url):
    assert youtube_id(url) == VID


@pytest.mark.parametrize("bad", [
    None, "", "   ", 42, b"https://youtu.be/dQw4w9WgXcQ", ["x"], "not a url", "https://example.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/", "https://www.youtube.com/watch", "https://www.youtube.com/watch?v=short",
    "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv", "https://www.youtube.com/@KhanAcademy",
    "https://www.youtube.com/playlist?list=PL_R7YJHCNd4eSlkX9YX0V4_UcWYCeMpk7",
    "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "ftp://youtube.com/watch?v=dQw4w9WgXcQ",
    "https://[::1/watch?v=dQw4w9WgXcQ", "https://youtu.be/", "javascript:alert(1)",
    "https://huggingface.co/datasets/yale-nlp/MMVU/resolve/main/videos/Art/0.mp4",
])
def test_not_a_video_url(bad):
    assert youtube_id(bad) is None


def test_concatenated_urls_give_both_ids():
    text = "https://www.youtube.com/watch?v=t8dzXoMvbmM&ab_channel=Edspirahttps://www.youtube.com/watch?v=YvjhsIE-mV0 "
    assert youtube_id(text) == "t8dzXoMvbmM"
    assert youtube_ids(text) == ["t8dzXoMvbmM", "YvjhsIE-mV0"]


def _shared_urls() -> dict[str, list[str]]:
    root = Path(Settings.load().benchmarks_dir)
    files = {"mmvu/validation.json": "youtube_url"} | {
        f"videommmu/{t}_video.json": "link_selected" for t in ("perception", "comprehension", "adaptation")}
    out = {}
    for rel, field in files.items():
        path = root / rel
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        items = doc if isinstance(doc, list) else [it for track in doc.values() for it in track.values()]
        out[rel] = [it[field] for it in items]
    return out


def test_every_url_in_shared_benchmark_files_yields_an_id(capsys):
    urls = _shared_urls()
    if not urls:
        pytest.skip("no benchmark files under settings.benchmarks_dir")
    for rel, values in urls.items():
        ids = [youtube_id(u) for u in values]
        bad = [u for u, i in zip(values, ids) if i is None or len(i) != 11]
        assert not bad, f"{rel}: {len(bad)} URLs without an id, e.g. {bad[:3]}"
        with capsys.disabled():
            print(f"\n{rel}: {len(values)} URLs -> {len(ids)} ids ({len(set(ids))} distinct)")
    assert sum(len(v) for v in urls.values()) == 1900
