# Shared shell functions: install and start the services Menagerie needs on a Debian host.
# Sourced by test/run and appliance/install. Idempotent and quick when all is in place.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "${LOG_TAG:-menagerie}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ensure_packages PKG...: installs the Debian packages that are missing.
ensure_packages() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_packages_unstarted PACKAGE...: installs packages without letting them start their
# services (a policy-rc.d that denies every start while apt runs): for tools whose packaged
# service must not run as packaged (docker-registry's listens on every interface, no TLS).
ensure_packages_unstarted() {
  local policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then ensure_packages "$@"; return; fi
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
  local rc=0
  ensure_packages "$@" || rc=$?
  rm -f "$policy"
  return "$rc"
}

# wait_for DESCRIPTION SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local what=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not answer within ${secs}s"
}

DAEMON_JSON='{
  "userns-remap": "default",
  "icc": false,
  "no-new-privileges": true,
  "live-restore": true,
  "userland-proxy": false,
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"}
}'

# The start/stop/restart of the daemons, shared with the Ansible roles and menageriectl.
SERVICE_CTL="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/menagerie-service"

# ensure_docker: Docker engine with the hardened daemon settings, running.
ensure_docker() {
  ensure_packages docker.io busybox-static
  mkdir -p /etc/docker
  if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$DAEMON_JSON" ]; then
    printf '%s\n' "$DAEMON_JSON" >/etc/docker/daemon.json
    log "restarting dockerd to apply /etc/docker/daemon.json"
    "$SERVICE_CTL" restart docker >&2
  fi
  "$SERVICE_CTL" start docker >&2
}

# ensure_mariadb: MariaDB running, answering on its unix socket.
ensure_mariadb() {
  ensure_packages mariadb-server
  "$SERVICE_CTL" start mariadb >&2
  # The appliance's buffer pool (ansible: menagerie_mysql_buffer_pool_mb), so that tests and
  # benchmarks meet the database as it runs there; resized online, nothing restarts.
  mysql -uroot -e "SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, $(buffer_pool_mb) * 1048576)"
}

# buffer_pool_mb: a quarter of the memory in MiB, 128 to 8192 (as the mariadb role sizes it).
buffer_pool_mb() {
  local kb
  kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  local mb=$((kb / 1024 / 4))
  ((mb < 128)) && mb=128
  ((mb > 8192)) && mb=8192
  echo "$mb"
}

# ensure_rabbitmq: RabbitMQ running with the management plugin, answering.
ensure_rabbitmq() {
  ensure_packages rabbitmq-server
  mkdir -p /etc/rabbitmq
  [ -f /etc/rabbitmq/enabled_plugins ] || echo '[rabbitmq_management].' >/etc/rabbitmq/enabled_plugins
  "$SERVICE_CTL" start rabbitmq-server >&2
  wait_for "RabbitMQ listener" 60 bash -c '</dev/tcp/127.0.0.1/5672'
}

# mysql_user NAME PASSWORD PRIVS ON: creates or updates a MariaDB account for local TCP and socket use.
mysql_user() {
  local name=$1 pass=$2 privs=$3 on=$4 host
  for host in localhost 127.0.0.1; do
    mysql -uroot -e "CREATE USER IF NOT EXISTS '$name'@'$host' IDENTIFIED BY '$pass';
      ALTER USER '$name'@'$host' IDENTIFIED BY '$pass'; GRANT $privs ON $on TO '$name'@'$host';"
  done
}

# rabbit_user NAME PASSWORD VHOST: an account with full rights on its own virtual host.
rabbit_user() {
  local name=$1 pass=$2 vhost=$3
  rabbitmqctl -q list_vhosts | grep -qx "$vhost" || rabbitmqctl -q add_vhost "$vhost" >/dev/null
  if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$name"; then
    rabbitmqctl -q change_password "$name" "$pass" >/dev/null
  else
    rabbitmqctl -q add_user "$name" "$pass" >/dev/null
  fi
  rabbitmqctl -q set_permissions -p "$vhost" "$name" '.*' '.*' '.*' >/dev/null
}
