"""Rank statistics of reward scores: ranks and category medians, the mixed model, family tests with
prompts or RMs as units, bootstrap CIs, word-shuffle control, and word-frequency analyses."""
