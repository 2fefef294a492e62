# shellcheck shell=bash
# Shared by the scripts in deploy/ops/ (docs/operations.md): sourced, not run.
#
# Every script fails with one line "<script>: error <code>: <detail>" on stderr and a
# non-zero status. Secrets (ledger URLs with passwords, broker passwords, console
# tokens) are read from files or the environment, never from the command line, and
# are never printed.

OPS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "${OPS_DIR}/../.." && pwd)
HUB=${HUB:-${ROOT}/.venv/bin/hub}
PYTHON=${PYTHON:-${ROOT}/.venv/bin/python}
PARTY_PATTERN='^[a-z][a-z0-9-]{1,31}$'
# shellcheck disable=SC2034 # used by the scripts that source this file
COMPOSE_FILE_DEFAULT="${ROOT}/deploy/compose/docker-compose.yml"
# How the scripts reach RabbitMQ's CLI: set by broker_option, used by broker_ctl.
BROKER_MODE=""
BROKER_ARG=""

die() {
    local code=$1
    shift
    echo "$(basename "$0"): error ${code}: $*" >&2
    exit 1
}

# show_usage FIRST LAST: print the header lines FIRST..LAST of the script, exit 2.
show_usage() {
    {
        echo "usage:"
        sed -n "$1,$2p" "$0" | sed 's/^#//'
        echo "See the comment at the top of $0 and docs/operations.md."
    } >&2
    exit 2
}

say() { echo "$(basename "$0"): $*" >&2; }

require_tools() {
    [[ -x "${HUB}" ]] || command -v "${HUB}" >/dev/null 2>&1 \
        || die tool.missing "no hub command at ${HUB}; set HUB or run make demo once"
    [[ -x "${PYTHON}" ]] || command -v "${PYTHON}" >/dev/null 2>&1 \
        || die tool.missing "no python at ${PYTHON}; set PYTHON"
}

check_party() {
    [[ $1 =~ ${PARTY_PATTERN} ]] \
        || die party.invalid "party ids are 2-32 of a-z, 0-9 and -, starting a-z"
}

# broker_option OPTION VALUE: remember how to reach rabbitmqctl.
#   --rabbitmq-dir DIR   a development node (deploy/dev/rabbitmq.sh ctl DIR ...)
#   --compose FILE       the compose deployment (docker compose exec rabbitmq rabbitmqctl)
#   --rabbitmqctl PATH   rabbitmqctl on this machine, run as is
broker_option() {
    case "$1" in
        --rabbitmq-dir) BROKER_MODE=dev ;;
        --compose) BROKER_MODE=compose ;;
        --rabbitmqctl) BROKER_MODE=local ;;
        *) die usage "unknown broker option $1" ;;
    esac
    BROKER_ARG=$2
}

# broker_ctl ARGS...: run rabbitmqctl ARGS on the chosen broker, bounded in time.
broker_ctl() {
    local seconds=${BROKER_TIMEOUT_SECONDS:-60}
    case "${BROKER_MODE}" in
        dev) timeout "${seconds}" "${ROOT}/deploy/dev/rabbitmq.sh" ctl "${BROKER_ARG}" "$@" ;;
        compose)
            timeout "${seconds}" docker compose -f "${BROKER_ARG}" exec -T rabbitmq \
                rabbitmqctl -q "$@"
            ;;
        local) timeout "${seconds}" "${BROKER_ARG}" -q "$@" ;;
        *) die usage "say how to reach RabbitMQ: --rabbitmq-dir, --compose or --rabbitmqctl" ;;
    esac
}

# broker_import FILE: import a definitions document (it may hold password hashes: the
# file is read from stdin or copied privately, never named on a command line of others).
broker_import() {
    local file=$1 seconds=${BROKER_TIMEOUT_SECONDS:-60}
    case "${BROKER_MODE}" in
        dev) timeout "${seconds}" "${ROOT}/deploy/dev/rabbitmq.sh" import "${BROKER_ARG}" "${file}" ;;
        compose)
            timeout "${seconds}" docker compose -f "${BROKER_ARG}" exec -T rabbitmq \
                rabbitmqctl -q import_definitions - <"${file}"
            ;;
        local) timeout "${seconds}" "${BROKER_ARG}" -q import_definitions "${file}" ;;
        *) die usage "say how to reach RabbitMQ: --rabbitmq-dir, --compose or --rabbitmqctl" ;;
    esac
}

# make_workdir: set WORK to a folder only we can read; it and every path added to
# CLEANUP are removed when the script ends (CLEANUP: unfinished output).
CLEANUP=()
cleanup() {
    rm -rf "${WORK:-}" "${CLEANUP[@]}"
}
make_workdir() {
    WORK=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/hub-ops.XXXXXX")
    trap cleanup EXIT
}

# hub_verify URL KEYS: `hub audit verify`, with the URL passed on stdin so that a
# password in it never appears in a process listing.
hub_verify() {
    "${PYTHON}" -c 'import sys
from hub.cli import main
url = sys.stdin.readline().strip()
sys.exit(main(["audit", "verify", "--ledger", url, "--keys", sys.argv[1]]))' "$2" <<<"$1"
}

# read_secret_file FILE: the first line of a secret file, refusing one others can read.
read_secret_file() {
    local file=$1 mode
    [[ -r ${file} ]] || die secret.unreadable "cannot read ${file}"
    mode=$(stat -c %a "${file}")
    [[ ${mode} =~ ^[0-7]?[0-7]00$ ]] || die secret.unsafe "${file} must have mode 0600 or 0400"
    head -n 1 "${file}"
}

# ledger_url: the ledger URL from --ledger-url-file (URL_FILE) or $HUB_LEDGER_URL,
# never from a command line.
ledger_url() {
    if [[ -n ${URL_FILE:-} ]]; then
        read_secret_file "${URL_FILE}"
    elif [[ -n ${HUB_LEDGER_URL:-} ]]; then
        printf '%s\n' "${HUB_LEDGER_URL}"
    else
        die usage "set HUB_LEDGER_URL or pass --ledger-url-file"
    fi
}

# pg TOOL ARGS...: a PostgreSQL client from PG_BIN (or PATH), bounded by SECONDS_LIMIT.
pg() {
    local tool=$1
    shift
    if [[ -x ${PG_BIN:-}/${tool} ]]; then
        timeout "${SECONDS_LIMIT}" "${PG_BIN}/${tool}" "$@"
    else
        command -v "${tool}" >/dev/null || die tool.missing "no ${tool}; set PG_BIN"
        timeout "${SECONDS_LIMIT}" "${tool}" "$@"
    fi
}
