"""Running user code: the bubblewrap sandbox (`SandboxCodePort`) and, for trusted single-user set-ups
that ask for it explicitly, plain process isolation (`SubprocessCodePort`)."""

from .port import CodeSandboxUnavailable, SandboxCodePort, SandboxStatus

__all__ = ["CodeSandboxUnavailable", "SandboxCodePort", "SandboxStatus"]
