#!/usr/bin/env bash
# Add an agency to a running deployment: what can be scripted, and what cannot.
#
#   add-agency.sh PARTY (--compose FILE | --rabbitmq-dir DIR | --rabbitmqctl PATH)
#                 [--secrets DIR] [--tls-dir DIR] [--parties FILE] [--vhost NAME]
#                 [--console-role ROLE --console-name NAME]
#
# PARTY must already be in the parties file (default deploy/parties.toml); the script
# prints what to add when it is not. SECRETS defaults to deploy/compose/secrets. Then:
#   1. keys: `hub keys init` into SECRETS/keys/PARTY/, public set copied to keys/public/;
#   2. client certificate: `hub tls client --dir TLS PARTY` (needs the CA key: bring it
#      back from offline for this step; TLS defaults to SECRETS/tls);
#   3. broker: `hub broker definitions --write` (with the default parties file only), a
#      random password in SECRETS/passwords/broker-PARTY.password (0600), its AMQPS URL
#      in SECRETS/urls/PARTY.broker-url, and the user, its permissions, its inbox and
#      bindings imported into the running broker (the password only as a hash, in a
#      file); SECRETS/rabbitmq/definitions.json gets the same, for the next boot;
#   4. with --console-role: a console token in SECRETS/tokens/NAME.token (0600).
# Nothing existing is overwritten. What is left (agreements, compose service, a rolling
# restart) is printed at the end: the agency receives nothing until an agreement that
# names it is active and every worker has restarted.
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 6; }

PARTY=${1:-}
[[ -n ${PARTY} && ${PARTY} != -* ]] || usage
shift
SECRETS="${ROOT}/deploy/compose/secrets"
TLS=""
PARTIES="${ROOT}/deploy/parties.toml"
VHOST=hub
ROLE=""
TOKEN_NAME=""
while (($#)); do
    case "$1" in
        --compose | --rabbitmq-dir | --rabbitmqctl) broker_option "$1" "${2:?}"; shift 2 ;;
        --secrets) SECRETS=${2:?}; shift 2 ;;
        --tls-dir) TLS=${2:?}; shift 2 ;;
        --parties) PARTIES=${2:?}; shift 2 ;;
        --vhost) VHOST=${2:?}; shift 2 ;;
        --console-role) ROLE=${2:?}; shift 2 ;;
        --console-name) TOKEN_NAME=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
check_party "${PARTY}"
[[ ${PARTY} != hub ]] || die party.invalid "hub is the hub, not an agency"
[[ -n ${BROKER_MODE} ]] || usage
[[ -z ${ROLE} || -n ${TOKEN_NAME} ]] || die usage "--console-role needs --console-name"
[[ -z ${TOKEN_NAME} || ${TOKEN_NAME} =~ ${PARTY_PATTERN} ]] || die usage "--console-name is an id"
[[ ${VHOST} =~ ^[A-Za-z0-9._-]+$ ]] || die usage "--vhost is a plain name"
TLS=${TLS:-${SECRETS}/tls}
require_tools

check_listed() {
    "${PYTHON}" - "${PARTIES}" "${PARTY}" <<'PY' && return 0
import sys
from pathlib import Path
from hub.broker.definitions import read_parties
sys.exit(0 if sys.argv[2] in read_parties(Path(sys.argv[1])) else 1)
PY
    cat >&2 <<EOF
${PARTY} is not in ${PARTIES}. Add it first (kind is one of the kinds rules.toml
knows; perpetrator_facing = true if it works with the person who stalks):

[[party]]
id = "${PARTY}"
name = "<the organisation's name>"
kind = "<police | probation | health | advocacy | ...>"
EOF
    die party.unknown "${PARTY} is not a party of this deployment yet"
}

make_keys() {
    local folder="${SECRETS}/keys/${PARTY}"
    if [[ -f ${folder}/${PARTY}.private.jwks.json ]]; then
        say "keys: ${folder} already holds keys; kept"
    else
        "${HUB}" keys init --party "${PARTY}" --out "${folder}" --parties "${PARTIES}" >&2 \
            || die keys.failed "hub keys init failed"
    fi
    mkdir -p "${SECRETS}/keys/public"
    cp "${folder}/${PARTY}.jwks.json" "${SECRETS}/keys/public/${PARTY}.jwks.json"
    chmod 0644 "${SECRETS}/keys/public/${PARTY}.jwks.json"
}

make_certificate() {
    if [[ -f ${TLS}/clients/${PARTY}.pem ]]; then
        say "tls: ${TLS}/clients/${PARTY}.pem exists; kept"
        return
    fi
    [[ -f ${TLS}/ca.key ]] || die tls.no_ca_key "${TLS}/ca.key is missing: bring the CA key back from offline for this step"
    "${HUB}" tls client --dir "${TLS}" "${PARTY}" >&2 || die tls.failed "hub tls client failed"
}

make_password() {
    local file="${SECRETS}/passwords/broker-${PARTY}.password"
    mkdir -p "${SECRETS}/passwords" "${SECRETS}/urls"
    if [[ ! -f ${file} ]]; then
        (umask 077 && "${PYTHON}" -c 'import secrets; print(secrets.token_hex(24))' >"${file}")
    fi
    if [[ ! -f ${SECRETS}/urls/${PARTY}.broker-url ]]; then
        (umask 077 && printf 'amqps://%s:%s@rabbitmq:5671/%s?cafile=/etc/hub/tls/ca.pem&certfile=/run/secrets/%s-tls-cert&keyfile=/run/secrets/%s-tls-key\n' \
            "${PARTY}" "$(cat "${file}")" "${VHOST}" "${PARTY}" "${PARTY}" >"${SECRETS}/urls/${PARTY}.broker-url")
    fi
}

# Write the broker fragment for PARTY (and, when it exists, the hub's widened
# permissions) to $1; merge the same into the boot definitions when they exist.
write_fragment() {
    local fragment=$1 hub_exists=$2
    "${PYTHON}" - "${PARTIES}" "${PARTY}" "${VHOST}" "${SECRETS}" "${fragment}" "${hub_exists}" <<'PY'
import json, os, sys
from pathlib import Path
from hub.broker.definitions import broker_definitions, read_parties

parties_file, party, vhost, secrets, fragment, hub_exists = sys.argv[1:7]
password = (Path(secrets) / "passwords" / f"broker-{party}.password").read_text().strip()
full = broker_definitions(read_parties(Path(parties_file)), vhost=vhost, passwords={party: password})
inbox = f"agency.{party}.inbox"
users = {party} | ({"hub"} if hub_exists == "yes" else set())
part = {
    "users": [u for u in full["users"] if u["name"] == party],
    "permissions": [p for p in full["permissions"] if p["user"] in users],
    "queues": [q for q in full["queues"] if q["name"] == inbox],
    "exchanges": full["exchanges"],
    "bindings": [b for b in full["bindings"] if b["destination"] == inbox],
}
descriptor = os.open(fragment, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
    json.dump(part, handle)
boot = Path(secrets) / "rabbitmq" / "definitions.json"
if boot.is_file():
    document = json.loads(boot.read_text(encoding="utf-8"))
    for key in ("users", "queues", "bindings"):
        document[key] = [i for i in document.get(key, []) if i not in part[key]]
        document[key] += part[key]
    document["users"] = [u for u in document["users"] if u["name"] != party] + part["users"]
    granted = {p["user"] for p in part["permissions"]}
    document["permissions"] = [p for p in document.get("permissions", []) if p["user"] not in granted]
    document["permissions"] += part["permissions"]
    partial = boot.with_name(boot.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, boot.stat().st_mode & 0o777)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
    os.replace(partial, boot)
    print(f"boot definitions updated: {boot}", file=sys.stderr)
PY
}

add_to_broker() {
    local users hub_exists=no
    if [[ ${PARTIES} -ef ${ROOT}/deploy/parties.toml ]]; then
        "${HUB}" broker definitions --write >&2 || die definitions.failed "hub broker definitions --write failed"
    else
        say "broker: custom parties file; deploy/rabbitmq/definitions.json left as is"
    fi
    make_password
    users=$(broker_ctl list_users --no-table-headers) || die broker.unavailable "rabbitmqctl list_users failed"
    awk '$1 == "hub" { found = 1 } END { exit !found }' <<<"${users}" && hub_exists=yes
    write_fragment "${WORK}/fragment.json" "${hub_exists}" || die definitions.failed "cannot build the broker fragment"
    broker_import "${WORK}/fragment.json" >&2 || die broker.failed "import_definitions failed"
    say "broker: user ${PARTY} with its inbox agency.${PARTY}.inbox in vhost ${VHOST}"
}

make_token() {
    [[ -n ${ROLE} ]] || return 0
    local file="${SECRETS}/tokens/${TOKEN_NAME}.token" output
    [[ ! -e ${file} ]] || die token.exists "${file} exists"
    mkdir -p "${SECRETS}/tokens"
    output=$("${HUB}" tokens create --role "${ROLE}" --name "${TOKEN_NAME}" \
        --file "${SECRETS}/console-tokens.json") || die token.failed "hub tokens create failed"
    (umask 077 && sed -n 1p <<<"${output}" >"${file}")
    say "console: token for ${TOKEN_NAME} (${ROLE}) in ${file}; hand it over, then delete the file"
}

print_manual_steps() {
    cat >&2 <<EOF

Done: keys, certificate, broker user, password and URL for ${PARTY}${ROLE:+, console token}.
Left to you (docs/operations.md, "Add an agency"):
  1. The agreement. Add ${PARTY} to an agreement in deploy/agreements/ (a new version:
     version + 1), with its [[parties]] entry, its clauses (provider/recipient, purpose,
     groups, lawful basis) and its [[signatories]] entry once signed. Check it:
       ${HUB} agreements check deploy/agreements --strict
  2. Compose: an adapter-${PARTY} service and its secrets (${PARTY}-private-keys,
     ${PARTY}-broker-url, ${PARTY}-tls-cert, ${PARTY}-tls-key) in docker-compose.yml,
     ${PARTY} in AGENCIES of make-secrets.sh; then .venv/bin/pytest -q tests/deploy/test_compose.py
  3. Workers load keys and agreements at start: deploy/ops/rolling-upgrade.sh --restart-only
  4. Hand ${PARTY} (if it runs its own adapter): ${SECRETS}/keys/${PARTY}/,
     ${TLS}/clients/${PARTY}.pem and .key, ${SECRETS}/urls/${PARTY}.broker-url, ${TLS}/ca.pem
EOF
}

main() {
    make_workdir
    check_listed
    make_keys
    make_certificate
    add_to_broker
    make_token
    print_manual_steps
}

main
