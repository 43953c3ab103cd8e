"""The programs a sandboxed interpreter starts with: wait for one job, run it, print one result, exit.

A worker is started ahead of need (the warm pool), so everything up to reading the job is paid before
the call. Each worker runs one job and exits: nothing a snippet leaves behind (patched modules, threads,
files in scratch) can reach another run. The job arrives on stdin as JSON ``{"code", "inputs"}``; the
result leaves on stdout after a per-worker marker as ``{"result": ...}`` or ``{"error": ...}``. What the
snippet prints goes to a bounded buffer, never to the result stream. Limits that count from the job's
start (CPU seconds, address space) are set here, after the worker is warm and before user code runs.
"""

PYTHON_RUNNER = r"""
import json, os, resource, select, sys
marker, config = sys.argv[1], json.loads(sys.argv[2])
ready, _, _ = select.select([0], [], [], config["idle"])
if not ready:
    raise SystemExit(0)
chunks = []
while True:
    chunk = os.read(0, 1 << 20)
    if not chunk:
        break
    chunks.append(chunk)
os.close(0)
used = resource.getrusage(resource.RUSAGE_SELF)
cpu = int(used.ru_utime + used.ru_stime + config["cpu"]) + 1
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (config["memory"], config["memory"]))
resource.setrlimit(resource.RLIMIT_FSIZE, (config["fsize"], config["fsize"]))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if config.get("packages"):
    sys.path.append(config["packages"])

class _Bounded:
    # print() output is kept to a small tail; it is never part of the result.
    encoding = "utf-8"
    def __init__(self):
        self.size = 0
    def write(self, text):
        self.size += len(text)
        return len(text)
    def flush(self):
        pass
    def isatty(self):
        return False

def _egress():
    # The sandbox has no network but its own loopback. A tiny forwarder there hands each connection to
    # the platform's egress broker (a Unix socket bound in), which applies the outbound rules.
    import socket, threading
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
    def serve():
        while True:
            client, _ = listener.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(config["egress"])
            except OSError:
                client.close()
                continue
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    proxy = "http://127.0.0.1:%d" % listener.getsockname()[1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ[name] = proxy
    os.environ.pop("NO_PROXY", None)

def _run(payload):
    namespace = {"__name__": "__main__"}
    exec(compile(payload["code"], "<code>", "exec"), namespace)
    main = namespace.get("main")
    if not callable(main):
        raise NameError("main function is not defined")
    return main(**payload["inputs"])

out = os.fdopen(os.dup(1), "w", encoding="utf-8")
sys.stdout = sys.stderr = _Bounded()
try:
    if config.get("egress"):
        _egress()
    result = _run(json.loads(b"".join(chunks)))
    if not isinstance(result, dict):
        raise TypeError("main must return a dict, got " + type(result).__name__)
    text = json.dumps({"result": result}, ensure_ascii=False)
except ModuleNotFoundError as error:
    text = json.dumps({"error": "ModuleNotFoundError: module %r is not available in the code sandbox "
                       "(available: %s and the standard library)" % (error.name, config.get("listing") or "none")})
except BaseException as error:
    text = json.dumps({"error": type(error).__name__ + ": " + str(error)})
data = text.encode("utf-8")
out.buffer.write(marker.encode() + b"%012d" % len(data) + data)
out.flush()
os._exit(0)
"""

NODE_RUNNER = r"""
const marker = process.argv[process.argv.length - 2];
const config = JSON.parse(process.argv[process.argv.length - 1]);
let input = '';
const idle = setTimeout(() => process.exit(0), config.idle * 1000);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { clearTimeout(idle); input += c; });
process.stdin.on('end', async () => {
  clearTimeout(idle);
  const write = process.stdout.write.bind(process.stdout);
  console.log = console.info = console.warn = console.error = console.debug = () => {};
  process.stdout.write = process.stderr.write = () => true;
  let text;
  try {
    const payload = JSON.parse(input);
    const main = new Function(payload.code + '\n;return typeof main === "function" ? main : undefined;')();
    if (typeof main !== 'function') throw new Error('main function is not defined');
    const result = await main(payload.inputs);
    if (result === null || typeof result !== 'object' || Array.isArray(result)) {
      throw new Error('main must return an object');
    }
    text = JSON.stringify({ result });
  } catch (e) {
    text = JSON.stringify({ error: (e && e.name ? e.name + ': ' : '') + (e && e.message ? e.message : String(e)) });
  }
  const data = Buffer.from(text, 'utf8');
  write(Buffer.concat([Buffer.from(marker + String(data.length).padStart(12, '0')), data]), () => process.exit(0));
});
"""
