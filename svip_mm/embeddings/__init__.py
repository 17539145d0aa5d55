"""svip_mm.embeddings (filled in by its issue)."""
