"""Writes of the knowledge domain (datasets, documents, segments, indexing); reads are in ``selectors``."""
