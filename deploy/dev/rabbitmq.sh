#!/usr/bin/env bash
# A private RabbitMQ node for development and tests (ARCHITECTURE section 9).
#
#   rabbitmq.sh start DIR PORT   start a node in DIR listening on 127.0.0.1:PORT and
#                                print its AMQP URL (vhost hub-test, an admin user)
#   rabbitmq.sh stop DIR         stop the node started in DIR
#   rabbitmq.sh url DIR          print the AMQP URL of the node started in DIR
#   rabbitmq.sh management-url DIR
#                                print the management HTTP API's URL of the node started
#                                in DIR (http://hub-admin:PASSWORD@127.0.0.1:MPORT)
#
#   rabbitmq.sh start-tls DIR PORT CERTDIR [PLAINPORT]
#                                start a node whose AMQP is TLS only, on 127.0.0.1:PORT,
#                                with ca.pem, server.pem and server.key from CERTDIR
#                                (`hub tls init --out CERTDIR`); client certificates
#                                optional but verified. With PLAINPORT it also listens
#                                without TLS there. Prints an amqps:// URL with ?cafile=.
#   rabbitmq.sh import DIR FILE  import RabbitMQ definitions (users, permissions, ...)
#   rabbitmq.sh ctl DIR ARGS...  run rabbitmqctl ARGS against the node started in DIR
#   rabbitmq.sh prometheus-url DIR
#                                enable RabbitMQ's own Prometheus plugin on the running
#                                plain node started in DIR (online, listening on
#                                127.0.0.1:PPORT, PPORT = PORT + 5000, or PORT - 5000
#                                above 65535) and print its metrics URL
#   rabbitmq.sh enable-plugin DIR PLUGIN
#                                enable the plugin PLUGIN (e.g. rabbitmq_federation) on
#                                the running node started in DIR, online; it stays
#                                enabled across restarts (DIR/enabled_plugins)
#
# `start` also enables the rabbitmq_management plugin, its HTTP listener on 127.0.0.1
# only, at MPORT = PORT + 10000, or PORT - 10000 when that is above 65535. The
# distribution port is PORT + 20000 (PORT - 20000 above 65535), so the two never
# meet; the TLS node (start-tls) gets no management listener. A node that is already
# running gets the plugin enabled online, without a restart.
#
# Pick PORT so that none of the three lies in the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), e.g. 10729 ->
# 20729, 30729: any client socket may be given a port from that range, and a node
# whose port is taken fails to boot (`rabbit_is_not_running`). `start` warns when one
# does.
#
# Everything lives in DIR (data, logs, Erlang cookie, credentials), so several nodes
# can run side by side without touching a system node. Every command is idempotent
# (but import and ctl, which do what they are told) and bounded in time. Installs
# Debian's rabbitmq-server when it is missing (root).
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly VHOST="hub-test"
readonly ADMIN="hub-admin"
# A node boots in 10-20 s; on a busy 2-core machine with the management plugin it
# has been seen to need more than a minute.
readonly WAIT_SECONDS="${RABBITMQ_WAIT_SECONDS:-120}"
# Debian's /usr/sbin wrappers switch to rabbitmq with `su`, which resets HOME (and so
# the cookie) to the system node's. We run the real scripts, keeping our environment.
readonly BIN=/usr/lib/rabbitmq/bin

die() { echo "rabbitmq.sh: $*" >&2; exit 1; }

usage() {
    die "usage: rabbitmq.sh start DIR PORT | start-tls DIR PORT CERTDIR [PLAINPORT]" \
        "| stop DIR | url DIR | management-url DIR | prometheus-url DIR | import DIR FILE | ctl DIR ARGS..." \
        "| enable-plugin DIR PLUGIN"
}

ensure_installed() {
    [[ -x "${BIN}/rabbitmq-server" ]] && return
    [[ $(id -u) -eq 0 ]] || die "rabbitmq-server is not installed and we are not root"
    echo "rabbitmq.sh: installing rabbitmq-server" >&2
    install_quietly rabbitmq-server
}

# Export the environment of the node in $1 listening on port $2.
node_env() {
    local dir=$1 port=$2
    export RABBITMQ_NODENAME="hubtest-${port}@localhost"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="${port}"
    RABBITMQ_DIST_PORT="$(dist_port "${port}")"
    export RABBITMQ_DIST_PORT
    export RABBITMQ_MNESIA_BASE="${dir}/mnesia"
    export RABBITMQ_LOG_BASE="${dir}/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="${dir}/enabled_plugins"
    export RABBITMQ_PID_FILE="${dir}/rabbitmq.pid"
    # Loopback only: Erlang distribution and epmd (if this node starts it) too.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1
    # A config file that does not exist keeps the system's /etc/rabbitmq out of it.
    export RABBITMQ_CONFIG_FILE="${dir}/rabbitmq"
    export RABBITMQ_ADVANCED_CONFIG_FILE="${dir}/advanced.config"
    export RABBITMQ_CONF_ENV_FILE="${dir}/rabbitmq-env.conf"
    # HOME holds .erlang.cookie: a private cookie, so no clash with any other node.
    export HOME="${dir}/home"
}

as_rabbitmq() {
    (cd "${RABBITMQ_MNESIA_BASE}" && timeout "${WAIT_SECONDS}" runuser -u rabbitmq -m -- "$@")
}

ctl() { as_rabbitmq "${BIN}/rabbitmqctl" -q -n "${RABBITMQ_NODENAME}" "$@"; }

plugins() { as_rabbitmq "${BIN}/rabbitmq-plugins" -q -n "${RABBITMQ_NODENAME}" "$@"; }

# The Erlang distribution port for AMQP port $1: RabbitMQ's own convention is
# PORT + 20000; above 45535 that is no port, so below.
dist_port() {
    if (($1 + 20000 <= 65535)); then echo "$(($1 + 20000))"; else echo "$(($1 - 20000))"; fi
}

# The management API's port for AMQP port $1 (see the header).
management_port() {
    if (($1 + 10000 <= 65535)); then echo "$(($1 + 10000))"; else echo "$(($1 - 10000))"; fi
}

# Prepare DIR ($1) so that the plain node on port $2 boots with the management
# plugin, listening on loopback only (rabbitmq.conf is read at boot).
management_config() {
    local dir=$1 port=$2
    {
        echo "# Written by deploy/dev/rabbitmq.sh start: the management API on loopback only."
        echo "management.tcp.ip = 127.0.0.1"
        echo "management.tcp.port = $(management_port "${port}")"
    } >"${dir}/rabbitmq.conf"
    # The Prometheus plugin's listener, for `prometheus-url`: read when the plugin
    # loads, enabled or not at boot (rabbitmq.conf would refuse a disabled plugin's keys).
    echo "[{rabbitmq_prometheus, [{tcp_config, [{ip, \"127.0.0.1\"}, {port, $(prometheus_port "${port}")}]}]}]." \
        >"${dir}/advanced.config"
    grep -q rabbitmq_management "${dir}/enabled_plugins" \
        || echo "[rabbitmq_management]." >"${dir}/enabled_plugins"
    chown rabbitmq:rabbitmq "${dir}/rabbitmq.conf" "${dir}/enabled_plugins" "${dir}/advanced.config"
}

# Enable the management plugin on the running node on port $1. A node booted before
# this script enabled it gets its listener set first, online: no restart.
enable_management() {
    local mport
    mport=$(management_port "$1")
    ctl eval "application:set_env(rabbitmq_management, tcp_config, [{ip, \"127.0.0.1\"}, {port, ${mport}}])." >/dev/null
    plugins enable rabbitmq_management >/dev/null
}

# The Prometheus plugin's port for AMQP port $1 (see the header).
prometheus_port() {
    if (($1 + 5000 <= 65535)); then echo "$(($1 + 5000))"; else echo "$(($1 - 5000))"; fi
}

running() { ctl status >/dev/null 2>&1; }

prepare_dir() {
    local dir=$1
    mkdir -p "${dir}/mnesia" "${dir}/log" "${dir}/home"
    [[ -f "${dir}/enabled_plugins" ]] || echo "[]." >"${dir}/enabled_plugins"
    if [[ ! -f "${dir}/home/.erlang.cookie" ]]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"${dir}/home/.erlang.cookie")
    fi
    [[ -f "${dir}/password" ]] || (umask 077; head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"${dir}/password")
    chmod 600 "${dir}/home/.erlang.cookie"
    # The server drops root and runs as rabbitmq; the CLI (as root) reads the same cookie.
    chown -R rabbitmq:rabbitmq "${dir}"
    chmod 755 "${dir}"
}

print_url() {
    local dir=$1 port
    port=$(cat "${dir}/port")
    if [[ -f "${dir}/tls/ca.pem" ]]; then
        echo "amqps://${ADMIN}:$(cat "${dir}/password")@127.0.0.1:${port}/${VHOST}?cafile=${dir}/tls/ca.pem"
    else
        echo "amqp://${ADMIN}:$(cat "${dir}/password")@127.0.0.1:${port}/${VHOST}"
    fi
}

configure() {
    local dir=$1
    ctl add_vhost "${VHOST}" 2>/dev/null || true
    if ! ctl list_users | grep -q "^${ADMIN}[[:space:]]"; then
        ctl add_user "${ADMIN}" "$(cat "${dir}/password")"
    fi
    ctl change_password "${ADMIN}" "$(cat "${dir}/password")"
    ctl set_user_tags "${ADMIN}" administrator
    ctl set_permissions -p "${VHOST}" "${ADMIN}" ".*" ".*" ".*"
}

check_port() {
    if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 <= 1024 || $1 > 65535)); then
        die "PORT must be 1025..65535"
    fi
}

# Warn when one of the ports ($@) lies in the kernel's ephemeral range (see the header).
warn_ephemeral() {
    local low high port
    read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    for port in "$@"; do
        if ((port >= low && port <= high)); then
            echo "rabbitmq.sh: warning: port ${port} is in the ephemeral range ${low}-${high};" \
                "a client socket may hold it and stop the node from booting" >&2
        fi
    done
}

start() {
    local dir port
    [[ $# -eq 2 ]] || usage
    dir=$(realpath -m "$1"); port=$2
    check_port "${port}"
    warn_ephemeral "${port}" "$(management_port "${port}")" "$(dist_port "${port}")"
    [[ ! -e "${dir}/tls" ]] || die "${dir} holds a TLS node: use start-tls"
    ensure_installed
    prepare_dir "${dir}"
    echo "${port}" >"${dir}/port"
    management_config "${dir}" "${port}"
    node_env "${dir}" "${port}"
    boot "${dir}"
    enable_management "${port}"
}

# Write the node's rabbitmq.conf: AMQPS on $2 (loopback), plain AMQP on $3 or none.
tls_config() {
    local dir=$1 port=$2 plain=$3
    {
        echo "# Written by deploy/dev/rabbitmq.sh start-tls; see deploy/rabbitmq/rabbitmq.conf."
        if [[ -n "${plain}" ]]; then
            echo "listeners.tcp.default = 127.0.0.1:${plain}"
        else
            echo "listeners.tcp = none"
        fi
        echo "listeners.ssl.default = 127.0.0.1:${port}"
        echo "ssl_options.cacertfile = ${dir}/tls/ca.pem"
        echo "ssl_options.certfile = ${dir}/tls/server.pem"
        echo "ssl_options.keyfile = ${dir}/tls/server.key"
        echo "ssl_options.verify = verify_peer"
        echo "ssl_options.fail_if_no_peer_cert = false"
        echo "ssl_options.versions.1 = tlsv1.3"
        echo "ssl_options.versions.2 = tlsv1.2"
    } >"${dir}/rabbitmq.conf"
}

start_tls() {
    local dir port certs plain=""
    [[ $# -eq 3 || $# -eq 4 ]] || usage
    dir=$(realpath -m "$1"); port=$2; certs=$(realpath -m "$3"); plain=${4:-}
    check_port "${port}"
    [[ -z "${plain}" ]] || check_port "${plain}"
    warn_ephemeral "${port}" "$(dist_port "${port}")" ${plain:+"${plain}"}
    for file in ca.pem server.pem server.key; do
        [[ -f "${certs}/${file}" ]] || die "no ${file} in ${certs}; run: hub tls init --out ${certs}"
    done
    [[ -e "${dir}/tls" || ! -e "${dir}/port" ]] || die "${dir} holds a plain node: use start"
    ensure_installed
    mkdir -p "${dir}/tls"
    (umask 077; cp "${certs}/ca.pem" "${certs}/server.pem" "${certs}/server.key" "${dir}/tls/")
    prepare_dir "${dir}"
    echo "${port}" >"${dir}/port"
    tls_config "${dir}" "${port}" "${plain}"
    chown rabbitmq:rabbitmq "${dir}/rabbitmq.conf"
    node_env "${dir}" "${port}"
    # The listeners come from rabbitmq.conf; these variables would add a plain one.
    unset RABBITMQ_NODE_IP_ADDRESS RABBITMQ_NODE_PORT
    boot "${dir}"
}

boot() {
    local dir=$1
    if ! running; then
        as_rabbitmq "${BIN}/rabbitmq-server" -detached >>"${dir}/log/startup.log" 2>&1 || true
        ctl wait --timeout "${WAIT_SECONDS}" "${RABBITMQ_PID_FILE}" >/dev/null \
            || die "node did not start within ${WAIT_SECONDS}s; see ${dir}/log"
    fi
    configure "${dir}"
    print_url "${dir}"
}

stop() {
    local dir
    [[ $# -eq 1 ]] || usage
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || { echo "rabbitmq.sh: no node in ${dir}" >&2; return 0; }
    [[ -x "${BIN}/rabbitmqctl" ]] || return 0
    node_env "${dir}" "$(cat "${dir}/port")"
    if running; then
        ctl stop "${RABBITMQ_PID_FILE}" >/dev/null \
            || die "node did not stop within ${WAIT_SECONDS}s"
    fi
}

url() {
    [[ $# -eq 1 ]] || usage
    local dir
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || die "no node in ${dir}"
    print_url "${dir}"
}

management_url() {
    [[ $# -eq 1 ]] || usage
    local dir
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || die "no node in ${dir}"
    [[ ! -e "${dir}/tls" ]] || die "${dir} holds a TLS node, which has no management listener"
    echo "http://${ADMIN}:$(cat "${dir}/password")@127.0.0.1:$(management_port "$(cat "${dir}/port")")"
}

# Point node_env at the running node started in $1.
attach() {
    local dir=$1
    [[ -f "${dir}/port" ]] || die "no node in ${dir}"
    node_env "${dir}" "$(cat "${dir}/port")"
    running || die "the node in ${dir} is not running"
}

import() {
    [[ $# -eq 2 ]] || usage
    local dir copy
    dir=$(realpath -m "$1")
    [[ -f "$2" ]] || die "no file $2"
    attach "${dir}"
    # The CLI runs as rabbitmq, which may not read the caller's folders: a private copy.
    copy=$(umask 077; mktemp "${dir}/import.XXXXXX.json")
    cp "$2" "${copy}"
    chown rabbitmq:rabbitmq "${copy}"
    local rc=0
    ctl import_definitions "${copy}" >/dev/null || rc=$?
    rm -f "${copy}"
    ((rc == 0)) || die "import_definitions failed (${rc})"
}

run_ctl() {
    [[ $# -ge 2 ]] || usage
    local dir
    dir=$(realpath -m "$1"); shift
    attach "${dir}"
    ctl "$@"
}

prometheus_url() {
    [[ $# -eq 1 ]] || usage
    local dir pport
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || die "no node in ${dir}"
    [[ ! -e "${dir}/tls" ]] || die "${dir} holds a TLS node: use a plain node"
    pport=$(prometheus_port "$(cat "${dir}/port")")
    attach "${dir}"
    if (exec 3<>"/dev/tcp/127.0.0.1/${pport}") 2>/dev/null; then
        echo "http://127.0.0.1:${pport}/metrics"
        return 0
    fi
    # `start` wrote the listener (127.0.0.1:PPORT) to advanced.config, which the plugin
    # reads as it loads; a node started before that was written cannot take it online.
    grep -q "rabbitmq_prometheus" "${dir}/advanced.config" 2>/dev/null \
        || die "${dir} was started without the Prometheus listener's config: restart it"
    plugins enable rabbitmq_prometheus >/dev/null
    # Enabled online, the plugin opens its listener a moment later: wait for it, bounded.
    local tries
    for ((tries = 0; tries < 120; tries++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/${pport}") 2>/dev/null; then
            echo "http://127.0.0.1:${pport}/metrics"
            return 0
        fi
        sleep 0.5
    done
    die "the Prometheus plugin did not listen on 127.0.0.1:${pport} within 60 s"
}

enable_plugin() {
    [[ $# -eq 2 ]] || usage
    local dir
    dir=$(realpath -m "$1")
    [[ $2 =~ ^rabbitmq_[a-z0-9_]+$ ]] || die "PLUGIN must be a rabbitmq_* plugin name"
    attach "${dir}"
    plugins enable "$2" >/dev/null
}

case "${1:-}" in
    start) shift; start "$@" ;;
    start-tls) shift; start_tls "$@" ;;
    stop) shift; stop "$@" ;;
    url) shift; url "$@" ;;
    management-url) shift; management_url "$@" ;;
    prometheus-url) shift; prometheus_url "$@" ;;
    import) shift; import "$@" ;;
    ctl) shift; run_ctl "$@" ;;
    enable-plugin) shift; enable_plugin "$@" ;;
    *) usage ;;
esac
