"""Pages that belong to no feature: the public front page, health check, language switch, errors."""
