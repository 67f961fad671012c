"""Helpers of the evalset stage (jobs/evalset.py): its inputs (items.py) and its JSONL export (export.py)."""
