"""CLI command groups; each module defines `register(app)` and is discovered automatically."""
