"""`python -m tests.support.fake_llm --port 8900`: the fake server as a development tool."""

from tests.support.fake_llm.server import main

main()
