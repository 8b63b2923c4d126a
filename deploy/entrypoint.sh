#!/bin/sh
# The container's entry point: migrate the database, then `teambeat run` with the given options.
#   (no arguments)        teambeat run -c "$TEAMBEAT_CONFIG"
#   --role web | worker   teambeat run -c "$TEAMBEAT_CONFIG" --role ...
#   status, post, db ...  any other teambeat command, with -c "$TEAMBEAT_CONFIG" added
# Several containers starting at once migrate once: the others wait on PostgreSQL's advisory lock and
# find the schema current. Secrets come from TEAMBEAT_<SECTION>_<KEY> variables, which beat the file.
set -eu

config="${TEAMBEAT_CONFIG:-/etc/teambeat/teambeat.toml}"
if [ ! -f "$config" ]; then
    echo "teambeat: no config file at $config: mount one there (docker run -v \$PWD/teambeat.toml:$config:ro)" \
        "or set TEAMBEAT_CONFIG to its path; config.example.toml documents every key" >&2
    exit 64
fi

case "${1:-}" in
    "" | -*)
        teambeat db upgrade -c "$config"
        exec teambeat run -c "$config" "$@"
        ;;
    run)
        shift
        teambeat db upgrade -c "$config"
        exec teambeat run -c "$config" "$@"
        ;;
    demo)
        exec teambeat "$@"
        ;;
    *)
        exec teambeat "$@" -c "$config"
        ;;
esac
