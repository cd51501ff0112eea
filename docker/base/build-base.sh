#!/usr/bin/env bash
# Builds the local base image localhost/watchtime-base:bookworm-py3.12 without any container registry:
# debootstrap Debian bookworm (minbase) from the mirror apt already uses, add the CPython 3.12 built on this
# machine (bookworm ships 3.11 only) under /usr/local, apply bookworm security updates, `podman import` it.
#
# The rootfs tarball is cached under $WATCHTIME_IMAGE_CACHE/<key>/ where <key> hashes this script and the
# interpreter, so reruns skip debootstrap; an image already carrying the key is left alone.
#
# Needs root, debootstrap and podman. Honours CONTAINERS_CONF / CONTAINERS_STORAGE_CONF like podman does.
set -euo pipefail

IMAGE=${WATCHTIME_BASE_IMAGE:-localhost/watchtime-base:bookworm-py3.12}
PYTHON_HOME=${WATCHTIME_BASE_PYTHON_HOME:-/root/.pyenv/versions/3.12.1}
CACHE_ROOT=${WATCHTIME_IMAGE_CACHE:-/var/cache/watchtime-image}
SUITE=bookworm
PYTHON_XY=3.12

log() { printf 'build-base: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap podman sha256sum tar chroot strip flock; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y debootstrap podman binutils)"
done
PYTHON_BIN="$PYTHON_HOME/bin/python$PYTHON_XY"
[[ -x $PYTHON_BIN ]] || die "no CPython $PYTHON_XY at $PYTHON_HOME (set WATCHTIME_BASE_PYTHON_HOME)"
"$PYTHON_BIN" -c 'import sysconfig, sys; sys.exit(sysconfig.get_config_var("Py_ENABLE_SHARED") != 1)' \
  || die "$PYTHON_BIN must be built with --enable-shared"

# Changing this script or the interpreter invalidates the cache; the mirror does not (same suite either way).
KEY=$( { sha256sum <"${BASH_SOURCE[0]}"; echo "$IMAGE $PYTHON_HOME"; "$PYTHON_BIN" -VV; } | sha256sum | cut -c1-16)
KEY_LABEL=org.watchtime.base-key

# One builder at a time (concurrent test runs share the cache and the image name).
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9

if podman image exists "$IMAGE" \
  && [[ $(podman image inspect --format "{{ index .Labels \"$KEY_LABEL\" }}" "$IMAGE") == "$KEY" ]]; then
  log "$IMAGE is up to date (key $KEY)"
  exit 0
fi

CACHE_DIR="$CACHE_ROOT/$KEY"
TARBALL="$CACHE_DIR/rootfs.tar"

# Prints "<suite> <uri>" for every Debian suite configured for apt (deb822 *.sources and one-line *.list).
apt_suite_uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)  { types = substr($i, 7) }
          if ($i ~ /^URIs:/)   { uris = substr($i, 6) }
          if ($i ~ /^Suites:/) { suites = substr($i, 8) }
          if ($i ~ /^Enabled:[ \t]*no/) { types = "" }
        }
        if (types !~ /(^|[ \t])deb([ \t]|$)/) next
        n = split(suites, s, /[ \t]+/); split(uris, u, /[ \t]+/)
        for (j = 1; j <= n; j++) if (s[j] != "") for (k in u) if (u[k] != "") print s[j], u[k]
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e $f ]] || continue
    sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\3 \2/p' "$f"
  done
}

first_uri_for() { apt_suite_uris | awk -v s="$1" '$1 == s { print $2; exit }'; }

# Debian packages holding the shared libraries the interpreter and its extension modules link against.
resolve_packages() {
  local so lib real pkg
  { find "$PYTHON_HOME/lib" -maxdepth 1 -name "libpython$PYTHON_XY.so.*"
    find "$PYTHON_HOME/lib/python$PYTHON_XY/lib-dynload" -name '*.so' ! -name '_tkinter*'
  } | while read -r so; do ldd "$so" | awk '/=> \// { print $3 }'; done \
    | grep -v "^$PYTHON_HOME/" | sort -u | while read -r lib; do
      real=$(readlink -f "$lib")
      # merged /usr: dpkg may know the file under /lib or /usr/lib
      pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) \
        || die "no Debian package owns $lib"
      echo "${pkg%%:*}"
    done | sort -u
}

build_rootfs() {
  local work="$CACHE_DIR/work" rootfs mirror security packages
  rootfs="$work/rootfs"
  mirror=$(first_uri_for "$SUITE") || true
  [[ -n $mirror ]] || die "no apt source for suite $SUITE in /etc/apt/sources.list{,.d}"
  security=$(first_uri_for "$SUITE-security") || true
  packages=$(resolve_packages | grep -v -x -e libc6 | paste -sd, -)
  log "debootstrap $SUITE (minbase) from $mirror with ca-certificates,netbase,tzdata,$packages"

  rm -rf "$work"
  mkdir -p "$work"
  debootstrap --variant=minbase --include="ca-certificates,netbase,tzdata,$packages" \
    "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log $work/debootstrap.log)"; }

  # Same mirrors as the host, deb822 style as in the official images; security updates applied now.
  rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $security ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"
  # Like Debian's slim images: packages installed later (apt-get upgrade here, or in derived images) leave
  # docs, man pages and translations out.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    'path-exclude /usr/share/lintian/*' >"$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mount -t proc proc "$rootfs/proc"
  trap 'umount "'"$rootfs"'/proc" 2>/dev/null || true' EXIT
  chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -ec \
    'apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' >"$work/upgrade.log" 2>&1 \
    || { tail -20 "$work/upgrade.log" >&2; die "security upgrade failed (log $work/upgrade.log)"; }
  umount "$rootfs/proc"
  trap - EXIT

  log "adding CPython from $PYTHON_HOME under /usr/local"
  local pylib="./lib/python$PYTHON_XY"
  tar -C "$PYTHON_HOME" -cf - \
    --exclude="$pylib/test" --exclude="$pylib/idlelib" --exclude="$pylib/tkinter" \
    --exclude="$pylib/turtledemo" --exclude="$pylib/lib-dynload/_tkinter*" \
    --exclude="$pylib/config-$PYTHON_XY-*/libpython$PYTHON_XY.a" \
    --exclude="$pylib/site-packages" --exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' \
    --exclude='./bin/idle*' --exclude='./bin/2to3*' --exclude='./share/man' \
    . | tar -C "$rootfs/usr/local" -xf -
  # Only pip from site-packages: anything else there is this machine's business, not the image's.
  mkdir -p "$rootfs/usr/local/$pylib/site-packages"
  (cd "$PYTHON_HOME/$pylib/site-packages" && tar -cf - pip pip-*.dist-info) \
    | tar -C "$rootfs/usr/local/$pylib/site-packages" -xf -
  # Relocate build-time paths (script shebangs, sysconfig, *-config, pkg-config) to /usr/local.
  grep -rlIZ --fixed-strings "$PYTHON_HOME" "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/pkgconfig" \
    "$rootfs/usr/local/$pylib"/_sysconfigdata_*.py "$rootfs/usr/local/$pylib"/config-"$PYTHON_XY"-* \
    | xargs -0 -r sed -i "s|$PYTHON_HOME|/usr/local|g"
  # Debug symbols are half of libpython's size and of no use in a container.
  find "$rootfs/usr/local/lib" "$rootfs/usr/local/bin" -type f \( -name '*.so' -o -name '*.so.*' -o -name "python$PYTHON_XY" \) \
    -exec strip --strip-unneeded {} +
  ln -sf python3 "$rootfs/usr/local/bin/python"
  ln -sf pip3 "$rootfs/usr/local/bin/pip"
  chroot "$rootfs" /sbin/ldconfig
  chroot "$rootfs" /usr/local/bin/python3 -m compileall -q -j0 "/usr/local/${pylib#./}" >/dev/null \
    || die "compileall in the rootfs failed"
  chroot "$rootfs" /usr/bin/env -i /usr/local/bin/python3 -c \
    'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, decimal, hashlib, json, readline, venv, zoneinfo
assert ssl.create_default_context().cert_store_stats()["x509_ca"] > 0, "no CA certificates"' \
    || die "the interpreter does not work in the rootfs"
  chroot "$rootfs" /usr/local/bin/python3 -m pip --version >/dev/null || die "pip does not work in the rootfs"

  # What a container runtime provides, or nobody needs at runtime.
  : >"$rootfs/etc/resolv.conf"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian/* "$rootfs/etc/hostname"
  # Keep only the copyright files of /usr/share/doc (licence notices of what the image ships).
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete

  tar --numeric-owner --xattrs -C "$rootfs" -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
  rm -rf "$work"
  # Rootfs tarballs of older keys are dead weight (about 200 MB each).
  find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" -exec rm -rf {} +
}

if [[ -s $TARBALL ]]; then
  log "reusing cached rootfs $TARBALL"
else
  mkdir -p "$CACHE_DIR"
  start=$SECONDS
  build_rootfs
  log "rootfs built in $((SECONDS - start))s"
fi

python_version=$("$PYTHON_BIN" -c 'import platform; print(platform.python_version())')
podman import --quiet \
  --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV PYTHON_VERSION=$python_version" \
  --change "LABEL $KEY_LABEL=$KEY" \
  --change "LABEL org.opencontainers.image.title=watchtime-base" \
  --change "LABEL org.opencontainers.image.description=Debian $SUITE minbase with CPython $python_version" \
  --change 'CMD ["python3"]' \
  --message "debootstrap $SUITE minbase + CPython $python_version (key $KEY)" \
  "$TARBALL" "$IMAGE" >/dev/null
log "imported $IMAGE (key $KEY)"
