"""podman for the image test: tool installation, the test's engine configuration, base and image builds."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = Path(__file__).resolve().parent / "containers.conf"
BASE_SCRIPT = REPO / "docker" / "base" / "build-base.sh"
BASE_IMAGE = "localhost/watchtime-base:bookworm-py3.12"
IMAGE = "localhost/watchtime:test"
BUILD_CACHE_IMAGE = "localhost/watchtime:test-build-stage"
BASE_KEY_LABEL = "org.watchtime.base-key"  # set by build-base.sh, inherited by every image built on the base
LOCK_FILE = Path("/var/cache/watchtime-image/.image-build.lock")

# executable -> Debian package providing it (debootstrap/chroot need root anyway, so apt-get is available).
REQUIRED_TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap", "strip": "binutils"}


def engine_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def ensure_tools() -> None:
    missing = {tool: package for tool, package in REQUIRED_TOOLS.items() if shutil.which(tool) is None}
    if not missing:
        return
    packages = sorted(set(missing.values()))
    if os.geteuid() != 0:
        pytest.fail(f"the image test needs {', '.join(missing)}; install them: apt-get install -y {' '.join(packages)}")
    install = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, text=True, timeout=900,
        check=False,
    )
    still_missing = [tool for tool in missing if shutil.which(tool) is None]
    if install.returncode != 0 or still_missing:
        pytest.fail(
            f"apt-get install -y {' '.join(packages)} failed (exit {install.returncode}), missing {still_missing}:\n"
            f"{install.stdout[-2000:]}{install.stderr[-2000:]}"
        )


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=engine_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@dataclass
class Build:
    image: str  # image id
    base_seconds: float
    image_seconds: float
    size_bytes: int


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def build_base() -> float:
    if os.geteuid() != 0:
        pytest.fail("building the local base image needs root (debootstrap, chroot); run the image test as root")
    started = time.monotonic()
    result = subprocess.run(
        [str(BASE_SCRIPT)], env=engine_env(), capture_output=True, text=True, timeout=1200, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{BASE_SCRIPT.relative_to(REPO)} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return time.monotonic() - started


def build_image() -> Build:
    """The real docker/Dockerfile on the local base; podman's layer cache makes unchanged rebuilds quick."""
    base_seconds = build_base()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    build_args = [
        "--format", "docker", "--pull=never", "--network", "host",
        "--file", str(REPO / "docker" / "Dockerfile"),
        "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg", f"VERSION={version}",
        # From the last commit, not the clock, so an unchanged tree rebuilds nothing.
        "--build-arg", f"REVISION={git('rev-parse', 'HEAD')}",
        "--build-arg", f"CREATED={git('log', '-1', '--format=%cI')}",
    ]
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as lock, tempfile.TemporaryDirectory(prefix="watchtime-image-") as scratch:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent runs: one build and prune at a time
        started = time.monotonic()
        # Naming the build stage keeps its layers (the pinned dependencies) out of the prune below.
        podman("build", *build_args, "--target", "app", "--tag", BUILD_CACHE_IMAGE, str(REPO), timeout=1800)
        id_file = Path(scratch) / "image-id"
        podman("build", *build_args, "--iidfile", str(id_file), "--tag", IMAGE, str(REPO), timeout=1800)
        image_seconds = time.monotonic() - started
        # The containers run this exact build by id, even if a concurrent run retags IMAGE meanwhile.
        image_id = id_file.read_text().strip()
        # Layers of earlier builds (every source change leaves ~150 MB) and of replaced bases; only images
        # derived from our base carry its label.
        podman("image", "prune", "--force", "--filter", f"label={BASE_KEY_LABEL}", timeout=300)
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image_id).stdout.strip())
    return Build(image_id, base_seconds, image_seconds, size)


def container_logs(name: str) -> str:
    result = podman("logs", "--tail", "60", name, check=False)
    return f"--- podman logs {name} ---\n{result.stdout}{result.stderr}"
