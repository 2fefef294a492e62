#!/usr/bin/env bash
# Back up the hub's ledger and record its head (docs/operations.md, "Back up the ledger").
#
#   HUB_LEDGER_URL=... backup-ledger.sh --keys DIR --out DIR [--schema NAME]
#   backup-ledger.sh --ledger-url-file FILE --keys DIR --out DIR [--schema NAME]
#                    [--compress 0-9]   (PostgreSQL: pg_dump's compression level)
#
# The ledger URL (it may hold a password) comes from HUB_LEDGER_URL or a file of mode
# 0600, never from the command line. --keys is a folder of public JWK Sets holding
# hub.jwks.json. Writes OUT/ledger-<UTC time>/ with:
#
#   ledger.db        SQLite: a copy made with the online backup API (not a file copy)
#   ledger.dump      PostgreSQL: pg_dump custom format of the ledger_* tables
#   functions.sql    PostgreSQL: the trigger function the tables need
#   MANIFEST         kind, entries, last_entry_hash, checkpoint_size, ledger_id, sha256
#
# SQLite: the copy is verified with `hub audit verify` before the backup counts.
# PostgreSQL: the source is verified, and the head is read from the dump itself, so it
# is the head of the snapshot pg_dump took. Bounded: pg commands time out after
# BACKUP_TIMEOUT_SECONDS (default 3600).
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 6; }

SCHEMA=public
COMPRESS=""
KEYS=""
OUT=""
URL_FILE=""
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SECONDS_LIMIT=${BACKUP_TIMEOUT_SECONDS:-3600}

while (($#)); do
    case "$1" in
        --keys) KEYS=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --schema) SCHEMA=${2:?}; shift 2 ;;
        --compress) COMPRESS=${2:?}; shift 2 ;;
        --ledger-url-file) URL_FILE=${2:?}; shift 2 ;;
        -h | --help) usage ;;
        *) usage ;;
    esac
done
[[ -n ${KEYS} && -n ${OUT} ]] || usage
[[ -f ${KEYS}/hub.jwks.json ]] || die keys.missing "${KEYS} holds no hub.jwks.json"
[[ -z ${COMPRESS} || ${COMPRESS} =~ ^[0-9]$ ]] || die usage "--compress is 0 to 9"
[[ ${SCHEMA} =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die usage "--schema is a lower-case identifier"
require_tools

# Fail unless pg_dump is at least the server's major version (it refuses otherwise,
# less clearly).
check_pg_version() {
    local server client
    server=$(pg psql -XAtq -c 'SHOW server_version_num') || die ledger.unavailable "cannot reach PostgreSQL"
    client=$(pg pg_dump --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
    ((client >= server / 10000)) \
        || die tool.too_old "pg_dump ${client} is older than the server ($((server / 10000))); set PG_BIN"
}

verify() {
    local url=$1 report
    report=$(hub_verify "${url}" "${KEYS}") \
        || die backup.not_intact "hub audit verify: $(head -n 1 <<<"${report}")"
    say "$(head -n 1 <<<"${report}")"
}

backup_sqlite() {
    local file=${1#sqlite:///} target=$2
    "${PYTHON}" "${OPS_DIR}/ledger_ops.py" sqlite-copy "${file}" "${target}/ledger.db" \
        || die backup.failed "could not copy ${file}"
    verify "sqlite:///${target}/ledger.db"
    {
        echo "kind=sqlite"
        "${PYTHON}" "${OPS_DIR}/ledger_ops.py" sqlite-head "${target}/ledger.db"
        echo "sha256=$(sha256sum "${target}/ledger.db" | cut -d' ' -f1)"
    } >"${target}/MANIFEST"
}

backup_postgres() {
    local url=$1 target=$2
    eval "$("${PYTHON}" "${OPS_DIR}/ledger_ops.py" pg-env "${WORK}" <<<"${url}")"
    check_pg_version
    verify "${url}"
    pg pg_dump --format=custom ${COMPRESS:+--compress="${COMPRESS}"} --no-owner --no-privileges \
        --table="${SCHEMA}.ledger_*" \
        --file="${target}/ledger.dump" || die backup.failed "pg_dump failed"
    pg psql -XAtq -v ON_ERROR_STOP=1 \
        -c "SELECT pg_get_functiondef('${SCHEMA}.ledger_refuse_change'::regproc) || ';'" \
        >"${target}/functions.sql" || die backup.failed "cannot read the ledger's trigger function"
    {
        echo "kind=postgresql"
        echo "schema=${SCHEMA}"
        pg pg_restore --data-only --table=ledger_head --table=ledger_meta \
            --table=ledger_checkpoints --file=- "${target}/ledger.dump" \
            | "${PYTHON}" "${OPS_DIR}/ledger_ops.py" pg-head
        echo "sha256=$(sha256sum "${target}/ledger.dump" | cut -d' ' -f1)"
    } >"${target}/MANIFEST"
}

main() {
    local url target
    make_workdir
    url=$(ledger_url)
    target="${OUT}/ledger-$(date -u +%Y%m%dT%H%M%SZ)"
    [[ ! -e ${target} ]] || die backup.exists "${target} exists; wait a second and run again"
    mkdir -p "${OUT}"
    (umask 077 && mkdir "${target}.partial")
    CLEANUP+=("${target}.partial")
    case "${url}" in
        sqlite:///?*) backup_sqlite "${url}" "${target}.partial" ;;
        postgresql://* | postgres://*) backup_postgres "${url}" "${target}.partial" ;;
        *) die ledger.url_invalid "the ledger URL must be sqlite:///FILE or postgresql://..." ;;
    esac
    mv "${target}.partial" "${target}"
    CLEANUP=()
    say "backup written: ${target} ($(grep -E '^(entries|checkpoint_size)=' "${target}/MANIFEST" | paste -sd' '))"
    echo "${target}"
}

main
