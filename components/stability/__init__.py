"""The stability study's components (paper 003): instability, rewind search, dynamics, few-shot,
probing and transfer, and what they share (common.py)."""
