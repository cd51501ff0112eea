"""Shared fixtures for the observability tests: paths of the shipped artefacts and Debian's Prometheus tools."""

import os
import shutil
import subprocess

import pytest
import yaml

from .artefacts import RULES_FILE


def _install_debian_prometheus() -> None:
    """Install Debian's `prometheus` package (ships prometheus and promtool) when we are root with apt."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            "promtool/prometheus not found and cannot be installed (needs root and apt-get): "
            "install the Debian package `prometheus` (apt-get install prometheus)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt run may hold the dpkg lock (machine provisioning); wait for it instead of failing.
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends", "prometheus"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        update = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update"], env=env,
                                capture_output=True, text=True)
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"apt-get install prometheus failed:\n{update.stderr[-2000:]}\n{result.stderr[-4000:]}")


@pytest.fixture(scope="session")
def prometheus_tools() -> dict[str, str]:
    """Paths of the real `promtool` and `prometheus` binaries, installing Debian's package when missing."""
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        _install_debian_prometheus()
    tools = {name: shutil.which(name) for name in ("promtool", "prometheus")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.fail(f"{missing} still not on PATH after installing the Debian package `prometheus`")
    return tools


@pytest.fixture(scope="session")
def alert_rules() -> list[dict]:
    """Every alerting rule of the shipped rule file."""
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]
