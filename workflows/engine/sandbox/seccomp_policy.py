"""The seccomp filter every sandboxed process runs under, compiled to BPF for ``bwrap --seccomp``.

Default-allow with a deny list: an allow-list breaks with every interpreter release, while the calls
denied here are the ones that reach kernel surface a code node never needs (namespaces, mounts, tracing,
kernel modules, BPF, io_uring, keyrings) or that would let code leave its single process (`fork`,
`clone` without `CLONE_THREAD`, `clone3`). Threads stay allowed, so Python and V8 work as usual.
Syscalls of a foreign ABI (32-bit `int 0x80`, x32) kill the process: only the native arch is in the
filter. Built with libseccomp (the ``pyseccomp`` bindings); without it the sandbox reports itself
unavailable rather than run without a filter.
"""

from __future__ import annotations

import errno
import tempfile

CLONE_THREAD = 0x00010000
_AF_UNIX, _AF_INET, _AF_INET6 = 1, 2, 10

# Calls that fail with EPERM: kernel surface a code node never needs.
DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "fork",
    "vfork",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "syslog",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "mknod",
    "mknodat",
    "fsopen",
    "fsmount",
    "fsconfig",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "lookup_dcookie",
    "vhangup",
    "personality",
)


def build_filter_bpf() -> bytes:
    """The compiled filter. Raises ImportError/OSError where libseccomp is not usable."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(deny, name)
        except (RuntimeError, OSError, ValueError):
            pass  # a syscall this kernel/arch does not have
    # New processes: only threads (CLONE_THREAD set). fork-bombs, posix_spawn and vfork get EPERM.
    f.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # Sockets: AF_UNIX (the egress broker) and IP (only the sandbox's own loopback exists) only.
    nosupport = seccomp.ERRNO(errno.EAFNOSUPPORT)
    f.add_rule(nosupport, "socket", seccomp.Arg(0, seccomp.GT, _AF_INET6))
    for family in range(_AF_INET + 1, _AF_INET6):
        f.add_rule(nosupport, "socket", seccomp.Arg(0, seccomp.EQ, family))
    f.add_rule(nosupport, "socket", seccomp.Arg(0, seccomp.EQ, 0))
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()
