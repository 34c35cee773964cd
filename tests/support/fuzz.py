"""How hard the property tests fuzz. The README's test run takes a fifth of each test's examples, so
the whole suite stays under 15 minutes on a 2-core machine; CI then runs the tests marked `fuzz`
again with all of them (`CDRFLOW_FUZZ_SCALE=1 pytest -m fuzz`, see .ci/run)."""
from __future__ import annotations

import os

SCALE = float(os.environ.get("CDRFLOW_FUZZ_SCALE", "0.2"))


def fuzz_examples(full: int) -> int:
    """The examples a fuzz test runs at this scale, out of the `full` number it was written for."""
    return max(100, round(full * SCALE))
