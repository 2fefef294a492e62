#!/usr/bin/env bash
# Print the path of promtool, the checker of Prometheus rules and configuration.
#
#   promtool.sh          print the path of promtool, installing it first if missing
#
# The monitoring files in deploy/prometheus/ are checked and unit-tested with the
# real promtool (tests/deploy/test_monitoring.py). Debian ships it in its
# `prometheus` package; as root this installs that package when no promtool is on
# PATH, without letting the package start its Prometheus service (we only want the
# tool). Idempotent, and bounded in time by PROMTOOL_INSTALL_SECONDS.
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly INSTALL_SECONDS="${PROMTOOL_INSTALL_SECONDS:-600}"

die() { echo "promtool.sh: $*" >&2; exit 1; }

find_promtool() { command -v promtool 2>/dev/null || true; }

# Install prometheus; a concurrent apt-get (another dev script) holds dpkg's lock, so
# retry a few times. Run by a bounded child shell: timeout needs a process.
install_with_retries() {
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        (install_quietly prometheus --no-install-recommends) && return 0
        echo "promtool.sh: apt-get failed (attempt ${attempt}); retrying in 15 s" >&2
        sleep 15
    done
    return 1
}

ensure_installed() {
    [[ -n "$(find_promtool)" ]] && return
    [[ $(id -u) -eq 0 ]] || die "promtool is not installed and we are not root"
    command -v timeout >/dev/null || die "timeout (coreutils) is missing"
    echo "promtool.sh: installing prometheus for promtool (at most ${INSTALL_SECONDS} s)" >&2
    export -f install_quietly install_with_retries die
    timeout "${INSTALL_SECONDS}" bash -c install_with_retries \
        || die "installing prometheus failed or took longer than ${INSTALL_SECONDS} s"
}

main() {
    [[ $# -eq 0 ]] || die "usage: promtool.sh"
    ensure_installed
    local path
    path=$(find_promtool)
    [[ -n "${path}" ]] || die "no promtool on PATH after installing prometheus"
    "${path}" --version >/dev/null 2>&1 || die "${path} does not run"
    echo "${path}"
}

main "$@"
