#!/usr/bin/env bash
# Builds the image with podman on the local debootstrap base (no container registry needed):
#   docker/build-local.sh [tag]        (default localhost/watchtime:dev; needs root for the base)
# Uses the podman settings of the image test unless CONTAINERS_CONF is already set.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${1:-localhost/watchtime:dev}
base=${WATCHTIME_BASE_IMAGE:-localhost/watchtime-base:bookworm-py3.12}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/k8s-tests/image/containers.conf}

WATCHTIME_BASE_IMAGE=$base "$repo/docker/base/build-base.sh"
podman build --format docker --pull=never --network host \
  --file "$repo/docker/Dockerfile" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml")" \
  --build-arg "REVISION=$(git -C "$repo" rev-parse HEAD)" \
  --build-arg "CREATED=$(git -C "$repo" log -1 --format=%cI)" \
  --tag "$tag" "$repo"
echo "built $tag; run it e.g.: CONTAINERS_CONF=$CONTAINERS_CONF podman run --rm --network host --read-only --tmpfs /tmp $tag --help" >&2
