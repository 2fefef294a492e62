#!/bin/sh
# Entrypoint of the hub image: read secrets from files, then run the command.
#
# For every variable HUB_<NAME>__FILE=<path> (double underscore: no setting has one,
# while HUB_LEDGER_KEY_FILE and friends are real settings), export HUB_<NAME> with
# the file's contents and drop the __FILE variable. A missing or unreadable file
# stops the container with a one-line error naming the variable, never the value.
set -eu

for assignment in $(env | sed -n 's/^\(HUB_[A-Z0-9_]*__FILE\)=.*/\1/p'); do
    name=${assignment%__FILE}
    eval "path=\${$assignment}"
    if [ ! -r "$path" ]; then
        echo "error secrets.unreadable: $assignment" >&2
        exit 78
    fi
    value=$(cat "$path")
    export "$name=$value"
    unset "$assignment"
done

exec "$@"
