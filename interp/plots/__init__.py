"""Figures (matplotlib, Agg backend); each function writes one PNG and returns its path."""
