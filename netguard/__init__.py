"""The one guarded outbound HTTP client: every request made to a URL a user gave goes through it.

Pure Python (no Django), so the workflow engine can use it too. The guard sits in the connection layer:
a network backend under httpx resolves the host once, checks every address it got, and connects to a
checked address (the Host header, TLS SNI and certificate check stay on the name). So there is no window
between the check and the connection for DNS rebinding, every redirect hop and every new connection is
checked, and environment proxies are never used (``trust_env=False``).

* `addresses` - which IP addresses are refused (loopback, private, link-local, metadata, ...).
* `policy` - `Policy`: on/off, the operator's allow-list, default limits; `DestinationBlocked`.
* `backend` - the guarded network backends, and `guard_transport` for an httpx (or httpx2) transport.
* `clients` - `client()` / `async_client()` built on them, and size-capped body reads.

The Django side builds the `Policy` from settings in `dify_project.outbound`.
"""

from .addresses import refusal_reason
from .backend import guard_transport
from .clients import ResponseTooLarge, aread_capped, async_client, client, read_capped
from .policy import DestinationBlocked, Policy, PolicySource

__all__ = [
    "DestinationBlocked",
    "Policy",
    "PolicySource",
    "ResponseTooLarge",
    "aread_capped",
    "async_client",
    "client",
    "guard_transport",
    "read_capped",
    "refusal_reason",
]
