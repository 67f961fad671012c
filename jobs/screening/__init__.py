"""Helpers of the screen stage: captions parsing, media probing and frame sampling, checks, decisions."""
