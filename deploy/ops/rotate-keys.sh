#!/usr/bin/env bash
# Rotate a party's keys with no lost message (docs/operations.md, ADR 0002).
#
#   rotate-keys.sh PARTY --dir KEYDIR --publish DIR [--publish DIR ...]
#                  [--lead-hours H] [--valid-days N] [--min-overlap-days D]
#
# KEYDIR holds PARTY.private.jwks.json (mode 0600) and PARTY.jwks.json. The script
#   1. adds a new signing and encryption key beside the old ones (`hub keys init --add`),
#      valid from now + H hours (default 24) for N days (default 365);
#   2. copies the new public JWK Set into every --publish folder (the hub's and each
#      adapter's keys_dir), atomically;
#   3. lists the keys: old and new are both valid in the overlap.
# It refuses when the old key would expire less than D days (default 30) after the new
# one becomes valid: messages sealed to the old key need that time to drain.
#
# Why the lead time: senders pick the newest valid key. A key that is valid at once
# could be used by a sender that has it before a reader that has not (the hub would
# seal to a key the agency cannot yet open, or the agency would sign with a key the
# hub does not yet know). With nbf in the future, the new key is published everywhere
# (private set at the party, public set at the hub and every adapter, workers and
# adapters restarted to load it) before anyone uses it; the old key keeps verifying and
# decrypting until its exp, so messages sealed to it still open.
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 5; }

PARTY=${1:-}
[[ -n ${PARTY} && ${PARTY} != -* ]] || usage
shift
DIR=""
PUBLISH=()
LEAD_HOURS=24
VALID_DAYS=365
MIN_OVERLAP_DAYS=30
while (($#)); do
    case "$1" in
        --dir) DIR=${2:?}; shift 2 ;;
        --publish) PUBLISH+=("${2:?}"); shift 2 ;;
        --lead-hours) LEAD_HOURS=${2:?}; shift 2 ;;
        --valid-days) VALID_DAYS=${2:?}; shift 2 ;;
        --min-overlap-days) MIN_OVERLAP_DAYS=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
check_party "${PARTY}"
[[ -n ${DIR} && ${#PUBLISH[@]} -gt 0 ]] || usage
for number in "${LEAD_HOURS}" "${VALID_DAYS}" "${MIN_OVERLAP_DAYS}"; do
    [[ ${number} =~ ^[0-9]+$ ]] || die usage "hours and days are whole numbers"
done
[[ -f ${DIR}/${PARTY}.private.jwks.json ]] \
    || die keys.missing "${DIR} holds no ${PARTY}.private.jwks.json; new parties: add-agency.sh"
for folder in "${PUBLISH[@]}"; do
    [[ -d ${folder} ]] || die publish.missing "no folder ${folder}"
done
require_tools

# The latest exp (epoch seconds) of the party's current keys, from the public set.
latest_expiry() {
    "${PYTHON}" -c 'import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
print(max(key["exp"] for key in keys))' "${DIR}/${PARTY}.jwks.json"
}

check_overlap() {
    local not_before=$1 expiry overlap_days
    expiry=$(latest_expiry) || die keys.unreadable "cannot read ${DIR}/${PARTY}.jwks.json"
    overlap_days=$(((expiry - not_before) / 86400))
    ((overlap_days >= MIN_OVERLAP_DAYS)) || die keys.overlap_too_short \
        "the current keys expire ${overlap_days} days after the new ones become valid;" \
        "need ${MIN_OVERLAP_DAYS} (rotate earlier, or lower --lead-hours)"
}

publish() {
    local folder
    for folder in "${PUBLISH[@]}"; do
        [[ $(realpath "${folder}") == $(realpath "${DIR}") ]] && continue
        cp "${DIR}/${PARTY}.jwks.json" "${folder}/.${PARTY}.jwks.json.new"
        chmod 0644 "${folder}/.${PARTY}.jwks.json.new"
        mv "${folder}/.${PARTY}.jwks.json.new" "${folder}/${PARTY}.jwks.json"
        say "published ${PARTY}.jwks.json in ${folder}"
    done
}

main() {
    local now not_before stamp
    now=$(date -u +%s)
    not_before=$((now + LEAD_HOURS * 3600))
    stamp=$(date -u -d "@${not_before}" +%Y-%m-%dT%H:%M:%SZ)
    check_overlap "${not_before}"
    "${HUB}" keys init --party "${PARTY}" --out "${DIR}" --add --not-before "${stamp}" \
        --valid-days "${VALID_DAYS}" >&2 || die keys.failed "hub keys init --add failed"
    publish
    say "keys of ${PARTY} at ${stamp}, when the new ones become valid:"
    "${HUB}" keys list "${PUBLISH[0]}" --at "${stamp}" | grep "^${PARTY} "
    cat >&2 <<EOF

Next, in this order (docs/operations.md, "Rotate a party's keys"):
  1. Give ${PARTY} its new private set ${DIR}/${PARTY}.private.jwks.json and restart
     its adapter, before ${stamp}.
  2. Restart the hub's workers one at a time (rolling-upgrade.sh --restart-only) and
     every other adapter, so that each loads the new public set, before ${stamp}.
  3. From ${stamp} senders use the new keys. Keep the old keys in both sets until
     every message sealed to them is drained (inboxes empty of them, no parked
     refusal of them left to replay) and they have expired; only then remove them.
EOF
}

main
