#!/usr/bin/env bash
# Upgrade (or just restart) the hub's workers one at a time, the others running.
#
#   rolling-upgrade.sh [--compose FILE] [--services "hub-worker-1 hub-worker-2 console"]
#                      [--grace SECONDS] [--ready-timeout SECONDS] [--restart-only | --pull]
#
# For the compose deployment (docs/deploy.md); plain processes: docs/operations.md.
# Default services: every hub-worker-N, then console. First every one of them must be
# ready. Then the new image is built (or pulled with --pull; neither with
# --restart-only, which reloads keys, agreements and settings). Then, for each service:
#
#   1. docker compose stop -t GRACE: SIGTERM. The worker takes no new message and gives
#      those in flight its shutdown grace (20 s) to finish; what it has not acked goes
#      back to hub.ingress.q for the other workers. GRACE (default 30) must exceed the
#      worker's grace, or Docker kills it mid-message (still safe: the broker
#      redelivers, the pipeline is idempotent by decision id, but slower).
#   2. docker compose up -d --no-deps --force-recreate: the new version starts.
#   3. wait until its /api/ready answers 200 (hub-healthcheck inside the container,
#      at most --ready-timeout seconds, default 120). If it does not, stop here: the
#      services not yet done still run the old version and carry the load.
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 5; }

COMPOSE=${COMPOSE_FILE_DEFAULT}
SERVICES=""
GRACE=30
READY_TIMEOUT=120
MODE=build
READY_URL="https://127.0.0.1:8443/api/ready"
POLL_SECONDS=${ROLLING_POLL_SECONDS:-2}

while (($#)); do
    case "$1" in
        --compose) COMPOSE=${2:?}; shift 2 ;;
        --services) SERVICES=${2:?}; shift 2 ;;
        --grace) GRACE=${2:?}; shift 2 ;;
        --ready-timeout) READY_TIMEOUT=${2:?}; shift 2 ;;
        --restart-only) MODE=restart; shift ;;
        --pull) MODE=pull; shift ;;
        *) usage ;;
    esac
done
[[ ${GRACE} =~ ^[0-9]+$ && ${READY_TIMEOUT} =~ ^[0-9]+$ ]] || die usage "seconds are whole numbers"
[[ -f ${COMPOSE} ]] || die compose.missing "no compose file ${COMPOSE}"
command -v docker >/dev/null || die tool.missing "no docker command"

compose() { timeout "$((GRACE + 120))" docker compose -f "${COMPOSE}" "$@"; }

default_services() {
    local all
    all=$(compose config --services) || die compose.failed "docker compose config failed"
    grep -E '^hub-worker-[0-9]+$' <<<"${all}" | sort -V || true
    grep -Fx console <<<"${all}" || true
}

ready() {
    compose exec -T "$1" hub-healthcheck console --url "${READY_URL}" >/dev/null 2>&1
}

wait_ready() {
    local service=$1 deadline
    deadline=$((SECONDS + READY_TIMEOUT))
    until ready "${service}"; do
        ((SECONDS < deadline)) || return 1
        sleep "${POLL_SECONDS}"
    done
}

roll() {
    local service=$1
    say "${service}: stopping (SIGTERM, up to ${GRACE}s for messages in flight)"
    compose stop -t "${GRACE}" "${service}" >&2 || die compose.failed "could not stop ${service}"
    say "${service}: starting the new version"
    compose up -d --no-deps --force-recreate "${service}" >&2 \
        || die compose.failed "could not start ${service}"
    wait_ready "${service}" || die upgrade.not_ready \
        "${service} not ready after ${READY_TIMEOUT}s; stopped here, the rest still run the" \
        "old version. Look at: docker compose -f ${COMPOSE} logs ${service}"
    say "${service}: ready"
}

main() {
    local services service
    read -r -a services <<<"${SERVICES:-$(default_services | tr '\n' ' ')}"
    ((${#services[@]} > 0)) || die compose.failed "no hub-worker-N or console service found"
    for service in "${services[@]}"; do
        ready "${service}" || die upgrade.not_ready "${service} is not ready now; fix that first"
    done
    case "${MODE}" in
        build) compose build "${services[@]}" >&2 || die compose.failed "docker compose build failed" ;;
        pull) compose pull "${services[@]}" >&2 || die compose.failed "docker compose pull failed" ;;
        restart) ;;
    esac
    for service in "${services[@]}"; do
        roll "${service}"
    done
    say "done: ${services[*]}"
}

main
