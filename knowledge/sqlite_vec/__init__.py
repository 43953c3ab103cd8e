"""A Django SQLite backend whose connections can load sqlite-vec, for Pythons built without extension
loading (the stdlib ``sqlite3`` of some builds, e.g. pyenv's default, lacks ``enable_load_extension``).

``DATABASES["default"]["ENGINE"] = "knowledge.sqlite_vec"`` uses the ``pysqlite3`` driver (PyPI
``pysqlite3-binary``, which bundles a current SQLite with extension loading) and loads sqlite-vec into
every connection; everything else is Django's own SQLite backend. Where the stdlib driver can load
extensions, the plain backend is enough: ``knowledge.apps`` loads sqlite-vec on connection.
"""
