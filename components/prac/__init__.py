"""The PrAC study's components (papers 000, 001): the PrAC search (search.py), its rounds'
schedule and ticket training (rounds.py), the saliency baselines (saliency.py) and forgetting
by sparsity (forgetting_by_sparsity.py)."""
