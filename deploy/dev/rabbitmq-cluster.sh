#!/usr/bin/env bash
# A private three-node RabbitMQ cluster for development and tests (ARCHITECTURE section 9).
#
#   rabbitmq-cluster.sh start DIR BASEPORT
#                           start three nodes listening on 127.0.0.1:BASEPORT, BASEPORT+1
#                           and BASEPORT+2, each in DIR/nodeN, cluster them (join_cluster)
#                           and print one AMQP URL per node, node 1 first
#   rabbitmq-cluster.sh stop DIR
#                           stop every node (node 1 last, so it can boot first again)
#   rabbitmq-cluster.sh stop-node DIR N
#                           stop node N (1..3) alone: the others carry on
#   rabbitmq-cluster.sh start-node DIR N
#                           start node N again; it rejoins the cluster; prints its URL
#   rabbitmq-cluster.sh status DIR
#                           one line per node: N, node name, AMQP port, running or
#                           stopped, and the running cluster members it sees
#   rabbitmq-cluster.sh urls DIR
#                           print the three AMQP URLs again
#
# Each node is a node of deploy/dev/rabbitmq.sh (name hubtest-PORT@localhost,
# distribution port PORT +- 20000, management API on PORT +- 10000, loopback only);
# that script does the booting, so `rabbitmq.sh ctl DIR/nodeN ARGS...` reaches a node.
# The nodes share one Erlang cookie and one admin password, written once in DIR; the
# vhost hub-test and the admin user live in the cluster's shared database.
#
# Quorum queues declared once the three nodes are clustered get a replica on each
# (RabbitMQ's default initial group size is min(5, cluster size)); their leader is the
# node the declaring client is connected to. aio-pika connects to one URL: a client
# keeps reconnecting to its own node, so a client survives the loss of any node but
# the one it is connected to (or put a TCP load balancer in front of the three).
#
# Every command is idempotent and bounded in time (RABBITMQ_WAIT_SECONDS per step,
# default 60; a node of a stopped cluster waits for its peers while they start).
set -euo pipefail

readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly NODE="${HERE}/rabbitmq.sh"
readonly NODES=(1 2 3)

die() { echo "rabbitmq-cluster.sh: $*" >&2; exit 1; }

usage() {
    die "usage: rabbitmq-cluster.sh start DIR BASEPORT | stop DIR | stop-node DIR N" \
        "| start-node DIR N | status DIR | urls DIR"
}

check_baseport() {
    if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 <= 1024 || $1 + 2 > 65535)); then
        die "BASEPORT must be 1025..65533"
    fi
}

check_node() { [[ $1 =~ ^[123]$ ]] || die "N must be 1, 2 or 3"; }

# The cluster's folder, made absolute; it must hold a cluster for all but start.
cluster_dir() {
    local dir
    dir=$(realpath -m "$1")
    if [[ ${2:-} != new ]]; then
        [[ -f "${dir}/baseport" ]] || die "no cluster in ${dir}"
    fi
    echo "${dir}"
}

port_of() { echo "$(($(cat "$1/baseport") + $2 - 1))"; }

name_of() { echo "hubtest-$(port_of "$1" "$2")@localhost"; }

# A random hex secret in file $1, written once, readable by its owner alone.
secret() {
    [[ -f "$1" ]] || (umask 077; head -c "$2" /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

# Give node $2 of cluster $1 the cluster's cookie and password before it first boots.
seed_node() {
    local dir=$1 n=$2
    mkdir -p "${dir}/node${n}/home"
    (umask 077
     cp "${dir}/cookie" "${dir}/node${n}/home/.erlang.cookie"
     cp "${dir}/password" "${dir}/node${n}/password")
}

# Start node $2 of cluster $1 (rabbitmq.sh start is idempotent); its output in a log.
boot_node() {
    local dir=$1 n=$2
    "${NODE}" start "${dir}/node${n}" "$(port_of "${dir}" "${n}")" \
        >"${dir}/node${n}.start.log" 2>&1
}

# Start the nodes named in $2.. at once: a node of a stopped cluster waits for its
# peers while booting, so one after the other could wait for a node not yet started.
boot_nodes() {
    local dir=$1 n failed=""
    shift
    local pids=()
    for n in "$@"; do
        boot_node "${dir}" "${n}" &
        pids+=("$!")
    done
    local i=0
    for n in "$@"; do
        wait "${pids[i]}" || failed="${failed} ${n}"
        i=$((i + 1))
    done
    [[ -z "${failed}" ]] || {
        for n in ${failed}; do sed 's/^/  /' "${dir}/node${n}.start.log" >&2; done
        die "node(s)${failed} did not start; see ${dir}/nodeN/log"
    }
}

ctl() {
    local dir=$1 n=$2
    shift 2
    "${NODE}" ctl "${dir}/node${n}" "$@"
}

# The cluster members node $2 knows of (running or not), one Erlang list.
members() { ctl "$1" "$2" eval 'rabbit_nodes:all().' 2>/dev/null || true; }

running_members() { ctl "$1" "$2" eval 'rabbit_nodes:all_running().' 2>/dev/null || true; }

# Make node $2 a member of node 1's cluster, unless it is one already: stop its app,
# reset it, join and start again, as rabbitmqctl stop_app, reset, join_cluster and
# start_app do, in one call (rabbitmq.sh ctl reaches only a node whose app runs).
join() {
    local dir=$1 n=$2 first
    first=$(name_of "${dir}" 1)
    members "${dir}" "${n}" | grep -q "'${first}'" && return 0
    echo "rabbitmq-cluster.sh: node ${n} joins ${first}" >&2
    ctl "${dir}" "${n}" eval "ok = rabbit:stop(), ok = rabbit_mnesia:reset(),
        Joined = rabbit_mnesia:join_cluster('${first}', disc),
        ok = rabbit:start(), Joined." >"${dir}/node${n}.join.log" 2>&1 \
        || die "node ${n} could not join ${first}; see ${dir}/node${n}.join.log"
    members "${dir}" "${n}" | grep -q "'${first}'" || die "node ${n} is not in the cluster"
}

print_urls() {
    local dir=$1 n
    for n in "${NODES[@]}"; do "${NODE}" url "${dir}/node${n}"; done
}

start() {
    [[ $# -eq 2 ]] || usage
    local dir base n
    dir=$(cluster_dir "$1" new); base=$2
    check_baseport "${base}"
    if [[ -f "${dir}/baseport" && $(cat "${dir}/baseport") != "${base}" ]]; then
        die "${dir} holds a cluster on $(cat "${dir}/baseport"), not ${base}"
    fi
    mkdir -p "${dir}"
    chmod 755 "${dir}"
    echo "${base}" >"${dir}/baseport"
    secret "${dir}/cookie" 24
    secret "${dir}/password" 18
    for n in "${NODES[@]}"; do seed_node "${dir}" "${n}"; done
    boot_nodes "${dir}" "${NODES[@]}"
    join "${dir}" 2
    join "${dir}" 3
    # The vhost and admin user are in the shared database now: configure node 1 again.
    boot_node "${dir}" 1
    print_urls "${dir}"
}

stop() {
    [[ $# -eq 1 ]] || usage
    local dir n
    dir=$(realpath -m "$1")
    [[ -f "${dir}/baseport" ]] || { echo "rabbitmq-cluster.sh: no cluster in ${dir}" >&2; return 0; }
    for n in 3 2 1; do
        [[ -d "${dir}/node${n}" ]] && "${NODE}" stop "${dir}/node${n}"
    done
    return 0
}

stop_node() {
    [[ $# -eq 2 ]] || usage
    local dir
    dir=$(cluster_dir "$1"); check_node "$2"
    "${NODE}" stop "${dir}/node$2"
}

start_node() {
    [[ $# -eq 2 ]] || usage
    local dir
    dir=$(cluster_dir "$1"); check_node "$2"
    seed_node "${dir}" "$2"
    boot_nodes "${dir}" "$2"
    "${NODE}" url "${dir}/node$2"
}

status() {
    [[ $# -eq 1 ]] || usage
    local dir n state seen
    dir=$(cluster_dir "$1")
    for n in "${NODES[@]}"; do
        state=stopped; seen=""
        if ctl "${dir}" "${n}" status >/dev/null 2>&1; then
            state=running
            seen=$(running_members "${dir}" "${n}" | tr -d "[]' \n")
        fi
        echo "${n} $(name_of "${dir}" "${n}") $(port_of "${dir}" "${n}") ${state} ${seen}"
    done
}

urls() {
    [[ $# -eq 1 ]] || usage
    print_urls "$(cluster_dir "$1")"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    stop-node) shift; stop_node "$@" ;;
    start-node) shift; start_node "$@" ;;
    status) shift; status "$@" ;;
    urls) shift; urls "$@" ;;
    *) usage ;;
esac
