"""Writes of the workflows domain: drafts, versions, variables, comparison, clean-up. See each module."""
