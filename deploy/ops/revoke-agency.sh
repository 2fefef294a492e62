#!/usr/bin/env bash
# Revoke an agency: cut it off at the broker at once, then stop the hub disclosing to it.
#
#   revoke-agency.sh PARTY (--compose FILE | --rabbitmq-dir DIR | --rabbitmqctl PATH)
#                    [--keys-dir DIR ...] [--boot-definitions FILE] [--yes]
#
# Immediate (this script, step 1): the agency's broker user is deleted and its open
# connections are closed. From that moment it can neither publish to hub.ingress nor
# read agency.PARTY.inbox, and cannot log in again.
#
# Follows (steps 2-4, effective after a rolling restart of the workers):
#   2. its public keys are moved out of each --keys-dir (into DIR/revoked/), so a
#      restarted hub neither verifies its signatures nor seals to it;
#   3. --boot-definitions (the definitions file RabbitMQ loads at boot, e.g.
#      deploy/compose/secrets/rabbitmq/definitions.json) loses the user, so a broker
#      restart does not bring it back;
#   4. you suspend or amend its agreements (printed below), run `hub agreements check`,
#      then `rolling-upgrade.sh --restart-only`: each worker reloads policy and keys.
# Until step 4 a running worker still decides with the old policy and keys: it may
# still queue deliveries to agency.PARTY.inbox, which the agency can no longer read.
#
# Refuses the hub's own user and any user tagged administrator. Asks for confirmation
# unless --yes.
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 5; }

PARTY=${1:-}
[[ -n ${PARTY} && ${PARTY} != -* ]] || usage
shift
KEY_DIRS=()
BOOT_DEFINITIONS=""
YES=0
while (($#)); do
    case "$1" in
        --compose | --rabbitmq-dir | --rabbitmqctl) broker_option "$1" "${2:?}"; shift 2 ;;
        --keys-dir) KEY_DIRS+=("${2:?}"); shift 2 ;;
        --boot-definitions) BOOT_DEFINITIONS=${2:?}; shift 2 ;;
        --yes) YES=1; shift ;;
        *) usage ;;
    esac
done
check_party "${PARTY}"
[[ -n ${BROKER_MODE} ]] || usage
[[ ${PARTY} != hub ]] || die revoke.refused "the hub's own user cannot be revoked"

# The user's tags, or "missing" when the broker has no such user.
user_tags() {
    local listing
    listing=$(broker_ctl list_users --no-table-headers) || die broker.unavailable "rabbitmqctl list_users failed"
    awk -v user="${PARTY}" '$1 == user { $1 = ""; print "found" $0; found = 1 } END { if (!found) print "missing" }' \
        <<<"${listing}"
}

revoke_at_broker() {
    local tags
    tags=$(user_tags)
    [[ ${tags} != *administrator* ]] || die revoke.refused "${PARTY} is a broker administrator"
    if [[ ${tags} == missing ]]; then
        say "broker: no user ${PARTY} (already revoked?)"
    else
        broker_ctl delete_user "${PARTY}" >/dev/null || die broker.failed "delete_user failed"
        say "broker: user ${PARTY} deleted: it can no longer log in, publish or read"
    fi
    # Deleting a user closes its connections in RabbitMQ; closing them by name as well
    # makes sure, and is harmless when there are none.
    broker_ctl close_all_user_connections "${PARTY}" "access revoked" >/dev/null 2>&1 || true
    say "broker: connections of ${PARTY} closed"
}

remove_keys() {
    local folder stamp
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    for folder in "${KEY_DIRS[@]}"; do
        if [[ -f ${folder}/${PARTY}.jwks.json ]]; then
            mkdir -p "${folder}/revoked"
            mv "${folder}/${PARTY}.jwks.json" "${folder}/revoked/${PARTY}.jwks.json.${stamp}"
            say "keys: ${folder}/${PARTY}.jwks.json moved to ${folder}/revoked/"
        fi
    done
}

drop_from_boot_definitions() {
    [[ -n ${BOOT_DEFINITIONS} ]] || return 0
    [[ -f ${BOOT_DEFINITIONS} ]] || die definitions.missing "no file ${BOOT_DEFINITIONS}"
    "${PYTHON}" - "${BOOT_DEFINITIONS}" "${PARTY}" <<'PY' || die definitions.failed "cannot edit ${BOOT_DEFINITIONS}"
import json, os, sys
path, party = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as handle:
    document = json.load(handle)
document["users"] = [u for u in document.get("users", []) if u.get("name") != party]
document["permissions"] = [p for p in document.get("permissions", []) if p.get("user") != party]
partial = f"{path}.partial"
descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, os.stat(path).st_mode & 0o777)
with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
    json.dump(document, handle, indent=2, sort_keys=True)
    handle.write("\n")
os.replace(partial, path)
PY
    say "boot definitions: ${PARTY} removed from ${BOOT_DEFINITIONS}"
}

print_policy_steps() {
    local files
    files=$(grep -l "party = \"${PARTY}\"" "${ROOT}"/deploy/agreements/*.toml 2>/dev/null || true)
    cat >&2 <<EOF

Done now: ${PARTY} is cut off at the broker.
Still to do, then reload the workers (the hub keeps its old policy and keys until then):
  - Agreements naming ${PARTY}: ${files:-none}
    Either set  status = "suspended"  (stops every share under that agreement), or
    publish a new version (version + 1) without ${PARTY}'s parties, clauses and
    signatories. Then: ${HUB} agreements check deploy/agreements --strict
  - Remove ${PARTY} from deploy/parties.toml once no agreement names it, then
    ${HUB} broker definitions --write (and remove its adapter from docker-compose.yml).
  - Console tokens held by ${PARTY}'s staff: hub tokens revoke --file TOKENS --name NAME
  - Then send SIGHUP to each worker (kill -HUP PID, or docker compose kill -s HUP
    hub-worker-1 hub-worker-2): each reloads policy and keys from its next message
    and logs worker.reloaded. A rolling restart does the same:
    deploy/ops/rolling-upgrade.sh --restart-only
  - Messages already in agency.${PARTY}.inbox stay there, unreadable by ${PARTY}; decide
    with the IG officer whether to purge them (rabbitmqctl purge_queue -p hub agency.${PARTY}.inbox).
EOF
}

main() {
    require_tools
    if ((YES == 0)); then
        local answer=""
        read -r -t 300 -p "Revoke ${PARTY} now? Type its id to confirm: " answer || true
        [[ ${answer} == "${PARTY}" ]] || die revoke.cancelled "not confirmed"
    fi
    revoke_at_broker
    remove_keys
    drop_from_boot_definitions
    print_policy_steps
}

main
