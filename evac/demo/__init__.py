"""Demo town: Seika's real shelters and a synthetic, deterministic population."""
