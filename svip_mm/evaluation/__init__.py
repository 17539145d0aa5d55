"""svip_mm.evaluation (filled in by its issue)."""
