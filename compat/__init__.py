"""compat: embeddings that learn relationship compatibility, not just topic similarity."""

__version__ = "0.1.0"
