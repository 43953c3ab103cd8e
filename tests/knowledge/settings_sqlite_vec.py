"""The project's settings on the ``knowledge.sqlite_vec`` engine (pysqlite3 + sqlite-vec), to run the
knowledge tests against the sqlite-vec store:

    .venv/bin/python -m pytest tests/knowledge/test_indexing.py tests/knowledge/test_retrieval.py \
        --ds=tests.knowledge.settings_sqlite_vec

(The live-server tests are left out: the ASGI application pins the default settings module.)
"""

from dify_project.settings import *  # noqa: F403

DATABASES["default"]["ENGINE"] = "knowledge.sqlite_vec"  # noqa: F405
VECTOR_STORE = "sqlite-vec"
