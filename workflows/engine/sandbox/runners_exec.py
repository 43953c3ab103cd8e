"""Start Node.js under the same limits as Python workers: a few lines of Python (trusted, already in the
sandbox) set the rlimits and replace themselves with ``node``, since V8 cannot lower its own."""

NODE_EXEC = r"""
import json, os, resource, sys
config = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_CPU, (config["cpu"], config["cpu"] + 1))
resource.setrlimit(resource.RLIMIT_AS, (config["memory"], config["memory"]))
resource.setrlimit(resource.RLIMIT_FSIZE, (config["fsize"], config["fsize"]))
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.execv(sys.argv[2], sys.argv[2:])
"""
