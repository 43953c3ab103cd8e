"""Engine tests need no database; keep them fast and Django-free."""
