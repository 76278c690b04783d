"""Measuring a model: the statistics (metrics), one model on one pair list (evaluate), embeddings cached
by model and data (projection, with the UMAP layouts), plotly figures, the HTML report, matching, and the
`evaluate` command (cli)."""
