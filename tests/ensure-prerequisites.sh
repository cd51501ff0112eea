#!/usr/bin/env bash
# Make sure what the tests use is here: PostgreSQL on 127.0.0.1:5432 (trust auth for postgres),
# RabbitMQ on 127.0.0.1:5672 (guest/guest), and the tools promtool/prometheus, podman, buildah,
# runc, debootstrap and binutils (the image test builds its own base), wrk (the bench), chromium, chromedriver
# and ffmpeg (the browser tests: a headless browser playing a clip made at test time), node and npm (the SDK's
# type declarations are checked with the TypeScript its package.json pins), iptables (the fault suite's
# network blackhole). Starts the services when installed; installs what is missing with apt when root, and
# otherwise names what is missing.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; return 1; }
as_root() { [[ $(id -u) == 0 ]]; }

apt_install() {
  as_root || { echo "ensure-prerequisites: $* missing and not root: install them (apt-get install $*)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
for tool in promtool:prometheus prometheus:prometheus podman:podman buildah:buildah runc:runc \
            debootstrap:debootstrap newuidmap:uidmap strip:binutils wrk:wrk \
            chromium:chromium chromedriver:chromium-driver ffmpeg:ffmpeg node:nodejs npm:npm iptables:iptables; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if ((${#missing[@]})); then
  apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
fi

# The fault suite, the bench and tests/test_replica.py run PostgreSQL clusters of their own (initdb,
# pg_basebackup for a streaming standby, pg_ctl), whatever serves 5432.
compgen -G '/usr/lib/postgresql/*/bin/pg_basebackup' >/dev/null || apt_install postgresql

if ! port_open 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
  conf=/etc/postgresql/$version/main/pg_hba.conf
  grep -q '^host all all 127.0.0.1/32 trust' "$conf" || sed -i '1i host all all 127.0.0.1/32 trust' "$conf"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port 5432 || { echo "ensure-prerequisites: PostgreSQL did not open 127.0.0.1:5432" >&2; exit 1; }
fi

if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  rabbitmq-server -detached
  wait_port 5672 || { echo "ensure-prerequisites: RabbitMQ did not open 127.0.0.1:5672" >&2; exit 1; }
  rabbitmqctl await_startup >/dev/null
fi
echo "ensure-prerequisites: PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 are up; tools present"
