#!/usr/bin/env bash
# A private PostgreSQL 15 for development and tests (ARCHITECTURE section 9).
#
#   postgres.sh start DIR PORT   start a server with its data in DIR, listening on
#                                127.0.0.1:PORT, create database hub_test and print
#                                its DSN: postgresql://hub@127.0.0.1:PORT/hub_test
#   postgres.sh stop DIR         stop the server started in DIR
#   postgres.sh dsn DIR          print the DSN of the server started in DIR
#
# Trust authentication on loopback only: a throwaway server for tests, never a
# deployment. Both commands are idempotent and bounded in time. Installs Debian's
# postgresql when the binaries are missing (as root). initdb refuses to run as
# root, so as root the server runs as the postgres user on a DIR it owns; DIR's
# parent folders must let that user through (/tmp does).
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN=/usr/lib/postgresql/15/bin
readonly DATABASE="hub_test"
readonly ROLE="hub"
readonly WAIT_SECONDS="${POSTGRES_WAIT_SECONDS:-30}"

die() { echo "postgres.sh: $*" >&2; exit 1; }

usage() { die "usage: postgres.sh start DIR PORT | stop DIR | dsn DIR"; }

ensure_installed() {
    [[ -x "${BIN}/initdb" ]] && return
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL 15 is not installed and we are not root"
    echo "postgres.sh: installing postgresql" >&2
    install_quietly postgresql-15
    [[ -x "${BIN}/initdb" ]] || die "no ${BIN}/initdb after installing"
}

# Run a server binary as the owner of the data: postgres when we are root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

data_dir() { echo "$1/data"; }

running() {
    local data
    data=$(data_dir "$1")
    [[ -f "${data}/postmaster.pid" ]] && as_owner "${BIN}/pg_ctl" -D "${data}" status >/dev/null 2>&1
}

print_dsn() { echo "postgresql://${ROLE}@127.0.0.1:$(cat "$1/port")/${DATABASE}"; }

prepare_dir() {
    local dir=$1 data
    data=$(data_dir "${dir}")
    mkdir -p "${dir}"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "${dir}"
    fi
    chmod 700 "${dir}"
    if [[ ! -f "${data}/PG_VERSION" ]]; then
        as_owner "${BIN}/initdb" -D "${data}" -A trust -U "${ROLE}" --encoding=UTF8 \
            --no-instructions >"${dir}/initdb.log" 2>&1 \
            || die "initdb failed; see ${dir}/initdb.log"
    fi
}

wait_ready() {
    local port=$1 waited=0
    until "${BIN}/pg_isready" -q -h 127.0.0.1 -p "${port}" -d postgres -U "${ROLE}"; do
        ((waited < WAIT_SECONDS * 5)) || return 1
        sleep 0.2
        waited=$((waited + 1))
    done
}

create_database() {
    local port=$1 exists
    exists=$("${BIN}/psql" -h 127.0.0.1 -p "${port}" -U "${ROLE}" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '${DATABASE}'")
    [[ "${exists}" == "1" ]] \
        || "${BIN}/createdb" -h 127.0.0.1 -p "${port}" -U "${ROLE}" "${DATABASE}"
}

start() {
    local dir port data
    [[ $# -eq 2 ]] || usage
    dir=$(realpath -m "$1"); port=$2
    [[ ${port} =~ ^[0-9]+$ ]] && ((port > 1024 && port <= 65535)) || die "PORT must be 1025..65535"
    ensure_installed
    prepare_dir "${dir}"
    data=$(data_dir "${dir}")
    if running "${dir}"; then
        [[ "$(cat "${dir}/port" 2>/dev/null)" == "${port}" ]] \
            || die "a server already runs in ${dir} on port $(cat "${dir}/port")"
    else
        echo "${port}" >"${dir}/port"
        as_owner "${BIN}/pg_ctl" -D "${data}" -l "${dir}/server.log" -s -w -t "${WAIT_SECONDS}" \
            -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1" start \
            || die "server did not start within ${WAIT_SECONDS}s; see ${dir}/server.log"
    fi
    wait_ready "${port}" || die "server not ready within ${WAIT_SECONDS}s; see ${dir}/server.log"
    create_database "${port}"
    print_dsn "${dir}"
}

stop() {
    local dir
    [[ $# -eq 1 ]] || usage
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || { echo "postgres.sh: no server in ${dir}" >&2; return 0; }
    [[ -x "${BIN}/pg_ctl" ]] || return 0
    if running "${dir}"; then
        as_owner "${BIN}/pg_ctl" -D "$(data_dir "${dir}")" -s -w -t "${WAIT_SECONDS}" -m fast stop \
            || die "server did not stop within ${WAIT_SECONDS}s"
    fi
}

dsn() {
    [[ $# -eq 1 ]] || usage
    local dir
    dir=$(realpath -m "$1")
    [[ -f "${dir}/port" ]] || die "no server in ${dir}"
    print_dsn "${dir}"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    dsn) shift; dsn "$@" ;;
    *) usage ;;
esac
