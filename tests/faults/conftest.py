"""What every fault scenario shares."""
from __future__ import annotations

import pytest

from support.stack import Up


@pytest.fixture(autouse=True)
def nothing_left_running():
    """A failed scenario must not leave its stack eating the next one's CPU: `up` is killed, and
    its children die with it (PR_SET_PDEATHSIG)."""
    yield
    for up in Up.started_here:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait()
    Up.started_here.clear()
