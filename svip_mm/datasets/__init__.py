"""svip_mm.datasets (filled in by its issue)."""
