# Shared by postgres.sh and rabbitmq.sh: sourced, not run.

# install_quietly PACKAGE [APT-OPTION...]: apt-get install PACKAGE without letting its
# maintainer scripts start a system service (we run private instances only). A policy-rc.d
# blocks service starts unless the machine already has one (containers usually do).
install_quietly() {
    local package="$1" blocker="" rc=0
    shift
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        blocker=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"${blocker}"
        chmod 755 "${blocker}"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "${package}" >&2 || rc=$?
    [[ -z "${blocker}" ]] || rm -f "${blocker}"
    [[ ${rc} -eq 0 ]] || die "apt-get install ${package} failed (${rc})"
}
