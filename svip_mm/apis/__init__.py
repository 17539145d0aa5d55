"""svip_mm.apis (filled in by its issue)."""
