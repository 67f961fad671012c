"""Helpers of the verify stage: answer matching and the early-exit check runner."""
