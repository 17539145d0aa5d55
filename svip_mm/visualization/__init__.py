"""svip_mm.visualization (filled in by its issue)."""
