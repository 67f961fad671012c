"""The far end of the YouTube Data API for tests: canned responses for googleapiclient's HttpMockSequence."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from googleapiclient.http import HttpMockSequence


class Recording(HttpMockSequence):
    """HttpMockSequence that also keeps the request URIs (to check the query parameters sent)."""

    def __init__(self, seq):
        super().__init__(seq)
        self.uris = []

    def request(self, uri, *a, **kw):
        self.uris.append(uri)
        return super().request(uri, *a, **kw)

    def params(self):
        return [(urlparse(u).path.rsplit("/", 1)[-1], parse_qs(urlparse(u).query)) for u in self.uris]


def ok(body):
    return ({"status": "200"}, json.dumps(body))


def err(status, reason):
    return ({"status": str(status)}, json.dumps({"error": {"code": status, "message": reason,
                                                          "errors": [{"reason": reason, "domain": "youtube"}]}}))


def search_page(ids, token=None):
    body = {"items": [{"id": {"kind": "youtube#video", "videoId": v}} for v in ids]}
    if token:
        body["nextPageToken"] = token
    return ok(body)


def video_item(vid, license="creativeCommon", duration="PT12M3S", caption="true", title=None, channel="Prof X",
               channel_id="UCabc"):
    return {"id": vid, "snippet": {"title": title or f"title {vid}", "description": "", "channelId": channel_id,
                                   "channelTitle": channel, "publishedAt": "2021-03-04T05:06:07Z",
                                   "liveBroadcastContent": "none"},
            "contentDetails": {"duration": duration, "caption": caption},
            "status": {"license": license, "privacyStatus": "public"}}
