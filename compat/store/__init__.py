"""The label store: pairs and their labels in SQLite (labels), its record types (records), schema and
migrations (schema), the review queue (review) and the `import` / `export` commands (cli)."""
