"""Media: the one place that decodes video (index, selective decode, frame choice, pHash, model frames)."""
