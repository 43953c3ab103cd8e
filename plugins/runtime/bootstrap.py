"""Started by the plugin runtime as `<plugin venv>/bin/python bootstrap.py <entrypoint>` in the plugin's
directory, instead of `python -m <entrypoint>` as Dify's daemon does. It keeps the protocol apart from
the plugin's own output: the pipe we read (fd 1 at start) is kept for the SDK's protocol writer alone,
and fd 1, `sys.stdout` and `print` then go to stderr, which we read as the plugin's log. A plugin that
prints (or writes to fd 1) cannot corrupt the protocol stream.

In the sandbox with egress (`sandbox.EGRESS_ENV` names the broker's socket) it first starts the
forwarder that is the plugin's only way out: a listener on the sandbox's own loopback handing each
connection to the platform's egress broker, and HTTP(S)_PROXY pointing at it. As the code sandbox's
runner does (`workflows.engine.sandbox.runners`), but on OS threads and socket objects taken before the
SDK's gevent monkey patching, so the forwarder does not depend on the plugin's greenlets being scheduled.

Runs in the plugin's interpreter with only the standard library and the SDK: never import the platform.
"""

import _thread
import os
import runpy
import socket
import sys
import threading

EGRESS_ENV = "DIFY_PLUGIN_EGRESS_SOCKET"  # as plugins.runtime.sandbox.EGRESS_ENV
_PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def start_forwarder(broker: str) -> str:
    """Listen on the sandbox's loopback, pipe each connection to the broker's Unix socket; the proxy URL."""
    plain_socket = socket.socket  # the unpatched class and thread starter, whatever gevent does later
    spawn = _thread.start_new_thread
    listener = plain_socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            # A raw fd: socket.accept() would wrap it in the module's (by then patched) class.
            fd, _ = listener._accept()
            client = plain_socket(socket.AF_INET, socket.SOCK_STREAM, fileno=fd)
            upstream = plain_socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(broker)
            except OSError:
                client.close()
                upstream.close()
                continue
            spawn(pump, (client, upstream))
            spawn(pump, (upstream, client))

    spawn(serve, ())
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def main() -> None:
    entrypoint = sys.argv[1]
    broker = os.environ.pop(EGRESS_ENV, "")
    if broker:
        proxy = start_forwarder(broker)
        for name in _PROXY_NAMES:
            os.environ[name] = proxy
        os.environ.pop("NO_PROXY", None)
        os.environ.pop("no_proxy", None)
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
