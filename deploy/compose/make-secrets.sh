#!/bin/sh
# Make every secret the compose deployment needs, under deploy/compose/secrets/.
#
#   deploy/compose/make-secrets.sh            # as root: also gives each file its owner
#
# Uses the project's own commands (hub tls init, hub keys init, hub keys ledger-key,
# hub tokens create) and, for the broker, the definitions generator with each user's
# password hash filled in (hub.broker.definitions.broker_definitions). Refuses to run
# when secrets/ exists: it never overwrites a key. docs/deploy.md explains each file.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HUB=${HUB:-$ROOT/.venv/bin/hub}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${OUT:-$HERE/secrets}
# Every party with a broker user and keys. The evaluator runs no service here: its
# keys, certificate and broker URL are handed to the national evaluation unit, which
# runs `hub-evaluation receive` at its own site (docs/evaluation.md). The linkage key
# is made once for all areas (`hub keys linkage-key`), not here.
AGENCIES="police probation health advocacy evaluator"
# Names the server certificate carries: the compose services clients connect to.
HOSTS="rabbitmq hub-worker-1 hub-worker-2 console"
HUB_UID=10001          # deploy/Dockerfile
RABBITMQ_UID=999       # the official rabbitmq image
POSTGRES_UID=999       # the official postgres image
GRAFANA_UID=472        # grafana/grafana-oss
PROMETHEUS_UID=65534   # prom/prometheus runs as nobody

if [ -e "$OUT" ]; then
    echo "error secrets.exist: $OUT exists; move it away to start again" >&2
    exit 1
fi
umask 077
mkdir -p "$OUT/keys/public" "$OUT/passwords" "$OUT/urls" "$OUT/tokens" \
         "$OUT/rabbitmq/tls" "$OUT/hub-tls" "$OUT/prometheus"

random() { "$PYTHON" -c 'import secrets; print(secrets.token_hex(24))'; }

echo "== TLS: private CA, server certificate, client certificates"
"$HUB" tls init --out "$OUT/tls" --hosts $HOSTS --agencies hub $AGENCIES
cp "$OUT/tls/ca.pem" "$OUT/tls/server.pem" "$OUT/tls/server.key" "$OUT/rabbitmq/tls/"
cp "$OUT/tls/ca.pem" "$OUT/tls/server.pem" "$OUT/tls/server.key" "$OUT/hub-tls/"
cp "$OUT/tls/ca.pem" "$OUT/prometheus/hub-ca.pem"

echo "== Party keys (signing and encryption) and the ledger key"
for party in hub $AGENCIES; do
    "$HUB" keys init --party "$party" --out "$OUT/keys/$party"
    cp "$OUT/keys/$party/$party.jwks.json" "$OUT/keys/public/"
done
"$HUB" keys ledger-key --out "$OUT/ledger.key"

echo "== Console tokens (stored as hashes; each token kept in one file)"
token() {  # role name: print the new token's line only (the command prints two)
    output=$("$HUB" tokens create --role "$1" --name "$2" --file "$OUT/console-tokens.json")
    printf '%s\n' "$output" | sed -n 1p > "$OUT/tokens/$2.token"
}
token operator healthcheck
token operator prometheus
token admin first-admin

echo "== Passwords and the URLs that carry them"
for user in hub $AGENCIES; do
    random > "$OUT/passwords/broker-$user.password"
    certs="certfile=/run/secrets/$user-tls-cert&keyfile=/run/secrets/$user-tls-key"
    printf 'amqps://%s:%s@rabbitmq:5671/hub?cafile=/etc/hub/tls/ca.pem&%s\n' \
        "$user" "$(cat "$OUT/passwords/broker-$user.password")" "$certs" \
        > "$OUT/urls/$user.broker-url"
done
random > "$OUT/passwords/postgres.password"
random > "$OUT/passwords/grafana-admin.password"
printf 'postgresql://hub:%s@postgres:5432/hub\n' "$(cat "$OUT/passwords/postgres.password")" \
    > "$OUT/urls/hub.ledger-url"

echo "== Broker definitions with password hashes (from deploy/parties.toml)"
"$PYTHON" - "$ROOT/deploy/parties.toml" "$OUT" <<'PY'
import json
import sys
from pathlib import Path

from hub.broker.definitions import broker_definitions, read_parties

parties, out = read_parties(Path(sys.argv[1])), Path(sys.argv[2])
passwords = {
    path.name.removeprefix("broker-").removesuffix(".password"): path.read_text().strip()
    for path in (out / "passwords").glob("broker-*.password")
}
document = broker_definitions(parties, passwords=passwords)
missing = [u["name"] for u in document["users"] if not u["password_hash"]]
if missing:
    sys.exit(f"error secrets.incomplete: no password for {', '.join(missing)}")
text = json.dumps(document, indent=2, sort_keys=True) + "\n"
(out / "rabbitmq" / "definitions.json").write_text(text, encoding="utf-8")
PY

# Public material may be read by anyone; everything else stays 0600/0700.
chmod 0755 "$OUT" "$OUT/keys" "$OUT/keys/public" "$OUT/prometheus"
chmod 0644 "$OUT"/keys/public/*.jwks.json "$OUT/prometheus/hub-ca.pem"

if [ "$(id -u)" = 0 ]; then
    chown -R "$RABBITMQ_UID:$RABBITMQ_UID" "$OUT/rabbitmq"
    chown "$POSTGRES_UID" "$OUT/passwords/postgres.password"
    chown "$GRAFANA_UID" "$OUT/passwords/grafana-admin.password"
    chown "$PROMETHEUS_UID" "$OUT/tokens/prometheus.token"
    chown -R "$HUB_UID:$HUB_UID" "$OUT/keys" "$OUT/ledger.key" "$OUT/console-tokens.json" \
        "$OUT/tokens/healthcheck.token" "$OUT/urls" "$OUT/hub-tls" "$OUT/tls/clients"
else
    echo "note: not root: give each container user its files before the first start" >&2
    echo "      (see docs/deploy.md, 'Secrets'), or run this script as root." >&2
fi
echo "done: $OUT (move $OUT/tls/ca.key offline once every certificate is issued)"
