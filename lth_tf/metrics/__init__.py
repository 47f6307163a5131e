"""Metrics on networks and examples: forgetting, scores, barriers, mask distances."""
