"""Project-wide fixtures. Domain fixtures live in each tests/<package>/conftest.py."""
