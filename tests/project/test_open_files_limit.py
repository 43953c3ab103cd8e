"""`make run` lifts the soft open-files limit so one process can hold thousands of streams."""

from __future__ import annotations

import resource

from dify_project.management.commands.run_platform import raise_open_files_limit


def test_the_soft_limit_is_raised_towards_the_hard_limit_and_never_lowered():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, soft), hard))
        new_soft, new_hard = raise_open_files_limit(wanted=4096)
        expected = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        assert (new_soft, new_hard) == (expected, hard)
        # a limit already above what is wanted stays where it is
        assert raise_open_files_limit(wanted=64)[0] == expected
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
