#!/usr/bin/env bash
# Restore a ledger backup into an empty place and verify it (docs/operations.md).
#
#   HUB_LEDGER_URL=... restore-ledger.sh --backup DIR --keys DIR
#   restore-ledger.sh --ledger-url-file FILE --backup DIR --keys DIR
#
# The URL names where to restore (it may hold a password: HUB_LEDGER_URL or a file of
# mode 0600, never the command line): sqlite:///FILE for a file that does not exist
# yet, or postgresql://... for a database with no ledger tables in the backup's schema.
# DIR is what backup-ledger.sh wrote. Then:
#
#   1. the backup's checksum must match its MANIFEST (a damaged file stops here);
#   2. the ledger is restored (SQLite: backup API into FILE; PostgreSQL: the trigger
#      function, then pg_restore in one transaction);
#   3. `hub audit verify` must say intact, with the entries and the checkpoint size the
#      MANIFEST recorded. Exit 0 only then; otherwise the restored ledger must not be
#      used (SQLite: the file is removed; PostgreSQL: drop the database).
set -euo pipefail
# shellcheck source=deploy/ops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { show_usage 4 5; }

BACKUP=""
KEYS=""
URL_FILE=""
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SECONDS_LIMIT=${BACKUP_TIMEOUT_SECONDS:-3600}

while (($#)); do
    case "$1" in
        --backup) BACKUP=${2:?}; shift 2 ;;
        --keys) KEYS=${2:?}; shift 2 ;;
        --ledger-url-file) URL_FILE=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
[[ -n ${BACKUP} && -n ${KEYS} ]] || usage
[[ -f ${BACKUP}/MANIFEST ]] || die backup.missing "${BACKUP} holds no MANIFEST"
[[ -f ${KEYS}/hub.jwks.json ]] || die keys.missing "${KEYS} holds no hub.jwks.json"
require_tools

manifest() { sed -n "s/^$1=//p" "${BACKUP}/MANIFEST" | head -n 1; }

check_checksum() {
    local file=$1 expected
    expected=$(manifest sha256)
    [[ -n ${expected} ]] || die backup.incomplete "the MANIFEST records no sha256"
    [[ $(sha256sum "${file}" | cut -d' ' -f1) == "${expected}" ]] \
        || die backup.checksum "$(basename "${file}") does not match its MANIFEST: damaged or altered"
}

# verify_restored URL: intact, and the same head as the backup recorded.
verify_restored() {
    local url=$1 report
    if ! report=$(hub_verify "${url}" "${KEYS}"); then
        say "$(head -n 1 <<<"${report}")"
        return 1
    fi
    say "$(head -n 1 <<<"${report}")"
    "${PYTHON}" "${OPS_DIR}/ledger_ops.py" compare "${BACKUP}/MANIFEST" <<<"${report}" >&2
}

restore_sqlite() {
    local file=${1#sqlite:///} partial
    [[ $(manifest kind) == sqlite ]] || die restore.kind "this backup is not of a SQLite ledger"
    check_checksum "${BACKUP}/ledger.db"
    [[ ! -e ${file} ]] || die restore.target_exists "${file} exists; restore into a new file"
    partial="$(dirname "${file}")/.$(basename "${file}").restoring"
    CLEANUP+=("${partial}")
    "${PYTHON}" "${OPS_DIR}/ledger_ops.py" sqlite-copy "${BACKUP}/ledger.db" "${partial}" \
        || die restore.failed "could not copy the backup"
    verify_restored "sqlite:///${partial}" \
        || die restore.not_intact "the restored ledger did not verify; it was removed"
    mv "${partial}" "${file}"
    CLEANUP=()
}

restore_postgres() {
    local url=$1 schema tables
    [[ $(manifest kind) == postgresql ]] || die restore.kind "this backup is not of a PostgreSQL ledger"
    check_checksum "${BACKUP}/ledger.dump"
    schema=$(manifest schema)
    [[ ${schema} =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die backup.incomplete "bad schema in MANIFEST"
    eval "$("${PYTHON}" "${OPS_DIR}/ledger_ops.py" pg-env "${WORK}" <<<"${url}")"
    tables=$(pg psql -XAtq -c "SELECT count(*) FROM pg_tables WHERE schemaname = '${schema}'
        AND tablename LIKE 'ledger\\_%'") || die ledger.unavailable "cannot reach PostgreSQL"
    ((tables == 0)) || die restore.target_not_empty \
        "database ${PGDATABASE} already holds ledger tables in schema ${schema}"
    {
        echo "CREATE SCHEMA IF NOT EXISTS ${schema};"
        cat "${BACKUP}/functions.sql"
    } | pg psql -XAtq -v ON_ERROR_STOP=1 >/dev/null || die restore.failed "could not create the trigger function"
    pg pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
        --dbname="${PGDATABASE}" "${BACKUP}/ledger.dump" || die restore.failed "pg_restore failed"
    verify_restored "${url}" \
        || die restore.not_intact "the ledger restored into ${PGDATABASE} did not verify; drop it"
}

main() {
    local url
    make_workdir
    url=$(ledger_url)
    case "${url}" in
        sqlite:///?*) restore_sqlite "${url}" ;;
        postgresql://* | postgres://*) restore_postgres "${url}" ;;
        *) die ledger.url_invalid "the ledger URL must be sqlite:///FILE or postgresql://..." ;;
    esac
    say "restored and verified from ${BACKUP}"
}

main
