#!/usr/bin/env bash
# Debian's chromium, for the console's browser tests (ARCHITECTURE section 9).
#
#   chromium.sh        install Debian's chromium package if /usr/bin/chromium is
#                      missing (as root), then print the executable's path
#
# Idempotent: with chromium present it installs nothing and only prints the path.
# Playwright drives this binary through executable_path; it never downloads its
# own browser. Bounded in time by CHROMIUM_INSTALL_SECONDS (default 900).
# Use it as: HUB_TEST_CHROMIUM="$(deploy/dev/chromium.sh)" pytest tests/hub/console
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly EXECUTABLE=/usr/bin/chromium
readonly INSTALL_SECONDS="${CHROMIUM_INSTALL_SECONDS:-900}"

die() { echo "chromium.sh: $*" >&2; exit 1; }

ensure_installed() {
    [[ -x "${EXECUTABLE}" ]] && return
    [[ $(id -u) -eq 0 ]] || die "chromium is not installed and we are not root"
    command -v timeout >/dev/null || die "timeout (coreutils) is missing"
    echo "chromium.sh: installing chromium (at most ${INSTALL_SECONDS} s)" >&2
    # install_quietly is a shell function: run it in a bounded child shell.
    export -f install_quietly die
    timeout "${INSTALL_SECONDS}" bash -c 'install_quietly chromium' \
        || die "installing chromium failed or took longer than ${INSTALL_SECONDS} s"
    [[ -x "${EXECUTABLE}" ]] || die "no ${EXECUTABLE} after installing"
}

[[ $# -eq 0 ]] || die "usage: chromium.sh (no arguments)"
ensure_installed
echo "${EXECUTABLE}"
