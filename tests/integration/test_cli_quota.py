"""`videokr quota` says which budget applies: the sample stand-in's accounting allowance is not YouTube's quota."""
from __future__ import annotations

from datetime import datetime, timezone

from jobs.sources.quota import quota_day
from videokr.cli.main import main


def test_quota_names_the_budget_of_each_source(settings, wh, capsys):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{"call_id": f"c{i}", "source": "sample", "key_fingerprint": "sample", "method": "search.list",
             "units": 100, "day": quota_day(), "status": "ok", "called_at": now} for i in range(550)]
    rows += [{"call_id": "y1", "source": "youtube", "key_fingerprint": "abc123", "method": "search.list",
              "units": 100, "day": quota_day(), "status": "ok", "called_at": now}]
    wh.write("api_usage", rows, "t")
    wh.close()
    assert main(["quota"]) == 0
    out = capsys.readouterr().out
    sample = out.split("sample (configured search source):")[1].split("\n  ")[:2]
    assert "55,000 used" in sample[0] and "offline stand-in" in sample[1] and "1,000,000,000/day" in sample[1]
    youtube = out.split("youtube:")[1]
    assert "key abc123: 100 used, 9,900 left" in youtube and "budget 10,000 units per key" in youtube
