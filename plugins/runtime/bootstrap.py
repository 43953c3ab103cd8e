"""Started by the plugin runtime as `<plugin venv>/bin/python bootstrap.py <entrypoint>` in the plugin's
directory, instead of `python -m <entrypoint>` as Dify's daemon does. It keeps the protocol apart from
the plugin's own output: the pipe we read (fd 1 at start) is kept for the SDK's protocol writer alone,
and fd 1, `sys.stdout` and `print` then go to stderr, which we read as the plugin's log. A plugin that
prints (or writes to fd 1) cannot corrupt the protocol stream.

Runs in the plugin's interpreter with only the standard library and the SDK: never import the platform.
"""

import os
import runpy
import sys
import threading


def main() -> None:
    entrypoint = sys.argv[1]
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, os.getcwd())  # noqa: PTH109 - stdlib only, as the SDK's own loader

    # Importing the SDK applies its gevent monkey patching first, as `import dify_plugin` does in main.py.
    from dify_plugin.core.server.stdio.response_writer import StdioResponseWriter

    lock = threading.Lock()  # gevent-aware after the patching: whole frames, never interleaved

    def write(self: object, data: str) -> None:
        with lock:
            protocol.write(data)
            protocol.flush()

    StdioResponseWriter.write = write  # type: ignore[method-assign]
    sys.argv = [entrypoint]
    runpy.run_module(entrypoint, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
