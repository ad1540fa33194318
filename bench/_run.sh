# shellcheck shell=bash
# Sourced by the bench commands: make sure .venv, PostgreSQL and Redis are
# there (the functions of scripts/test.sh, which runs nothing when sourced),
# then replace this shell with `python -m bench.<name> ARGS...`.
set -euo pipefail

# shellcheck source=scripts/test.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../scripts/test.sh"

run_bench() {
    local module=$1
    shift
    ensure_venv runtime >/dev/null
    ensure_postgres >/dev/null
    ensure_redis >/dev/null
    cd "${ORDERLY_ROOT}"
    unset DJANGO_SETTINGS_MODULE
    export BENCH_PG_URL="postgres://postgres@${PG_HOST}:${PG_PORT}"
    export BENCH_REDIS_URL="redis://${REDIS_HOST}:${REDIS_PORT}"
    exec python -m "bench.${module}" "$@"
}
