#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): set up .venv with the dev
# requirements, make sure PostgreSQL (127.0.0.1:5432, user postgres, trust) and
# Redis (127.0.0.1:6379) are installed and running (and Debian's chromium for
# the browser tests unless ORDERLY_SKIP_BROWSER is set), then lint, check
# migrations and the OpenAPI schema, and run pytest. Arguments go to pytest:
#   ./scripts/test.sh -x -k orders
set -euo pipefail

# shellcheck source=scripts/_lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/_lib.sh"

PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=orderly
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_DB=15 # a database number of its own, away from anything else on this Redis
CHROMIUM=/usr/bin/chromium

# --- PostgreSQL --------------------------------------------------------------

pg_ready() { pg_isready -h "${PG_HOST}" -p "${PG_PORT}" -t 2 >/dev/null 2>&1; }

# Newest PostgreSQL version with a config dir under /etc/postgresql (e.g. 15).
pg_version() {
    local d
    for d in /etc/postgresql/*/; do
        if [[ -d ${d} ]]; then basename "${d}"; fi
    done | sort -V | tail -n 1
}

pg_installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 &&
        [[ -n $(pg_version) ]]
}

pg_psql() { psql -h "${PG_HOST}" -p "${PG_PORT}" -U postgres -w -X -q "$@" </dev/null; }
pg_can_login() { pg_psql -d postgres -Atc 'select 1' >/dev/null 2>&1; }

# Trust local TCP logins (127.0.0.1 and ::1) for user postgres: prepend the rules
# to pg_hba.conf (first match wins), keeping a backup and the file's owner.
pg_trust_local() {
    local version=$1 hba tmp
    hba="/etc/postgresql/${version}/main/pg_hba.conf"
    log "configuring trust auth for 127.0.0.1 and ::1 in ${hba}"
    tmp=$(mktemp)
    {
        echo "# Added by orderly scripts/test.sh: trust local TCP logins (dev/CI machine)."
        echo "host    all    all    127.0.0.1/32    trust"
        echo "host    all    all    ::1/128         trust"
        as_root cat "${hba}"
    } >"${tmp}"
    as_root cp -p "${hba}" "${hba}.orderly-backup"
    as_root tee "${hba}" <"${tmp}" >/dev/null # tee keeps the file's owner and mode
    rm -f "${tmp}"
}

ensure_postgres() {
    local version log_file
    if ! pg_ready; then
        pg_installed || apt_install postgresql
        version=$(pg_version)
        [[ -n ${version} ]] || die "PostgreSQL installed but no cluster config under /etc/postgresql"
        if [[ ! -f /etc/postgresql/${version}/main/postgresql.conf ]]; then
            log "creating PostgreSQL cluster ${version}/main"
            as_root pg_createcluster "${version}" main
        fi
        log "starting PostgreSQL ${version}/main"
        # Tolerate "already running" (e.g. still starting up): readiness decides.
        as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main start </dev/null ||
            log "pg_ctlcluster start returned $?; waiting for readiness anyway"
        if ! wait_for PostgreSQL 60 pg_ready; then
            log_file="/var/log/postgresql/postgresql-${version}-main.log"
            [[ -r ${log_file} ]] && tail -n 20 "${log_file}" >&2
            die "PostgreSQL did not come up on ${PG_HOST}:${PG_PORT}"
        fi
    fi
    if ! pg_can_login; then
        # A fresh Debian install asks for a password on TCP; switch to trust.
        version=$(pg_version)
        [[ -n ${version} ]] || die "cannot log in to PostgreSQL as postgres on ${PG_HOST}:${PG_PORT}"
        pg_trust_local "${version}"
        as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main reload </dev/null
        wait_for "PostgreSQL login" 15 pg_can_login ||
            die "cannot log in to PostgreSQL as postgres on ${PG_HOST}:${PG_PORT} without a password"
    fi
    if [[ -z $(pg_psql -d postgres -Atc "select 1 from pg_database where datname = '${PG_DB}'") ]]; then
        log "creating database ${PG_DB}"
        pg_psql -d postgres -c "create database ${PG_DB}"
    fi
    log "PostgreSQL ready on ${PG_HOST}:${PG_PORT}"
}

# --- Redis -------------------------------------------------------------------

redis_ready() {
    [[ $(timeout 5 redis-cli -h "${REDIS_HOST}" -p "${REDIS_PORT}" ping 2>/dev/null </dev/null) == PONG ]]
}

ensure_redis() {
    if ! redis_ready; then
        if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
            apt_install redis-server
        fi
        log "starting Redis on ${REDIS_HOST}:${REDIS_PORT}"
        as_root mkdir -p /var/lib/redis /var/log/redis
        as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "${REDIS_PORT}" \
            --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null ||
            log "redis-server returned $?; waiting for readiness anyway"
        if ! wait_for Redis 30 redis_ready; then
            [[ -r /var/log/redis/ci.log ]] && tail -n 20 /var/log/redis/ci.log >&2
            die "Redis did not come up on ${REDIS_HOST}:${REDIS_PORT}"
        fi
    fi
    log "Redis ready on ${REDIS_HOST}:${REDIS_PORT}"
}

# --- Chromium (browser tests drive Debian's chromium through Playwright) -----

ensure_chromium() {
    if [[ -n ${ORDERLY_SKIP_BROWSER:-} ]]; then
        log "ORDERLY_SKIP_BROWSER is set: not checking for ${CHROMIUM}"
    elif [[ -x ${CHROMIUM} ]]; then
        log "chromium present (${CHROMIUM})"
    else
        apt_install chromium
        [[ -x ${CHROMIUM} ]] || die "apt installed chromium but ${CHROMIUM} is missing"
    fi
}

# --- The run -----------------------------------------------------------------

# run_step NAME COMMAND...: run one step, stop the whole run if it fails.
run_step() {
    local name=$1 rc=0
    shift
    log "==> ${name}"
    "$@" || rc=$?
    if ((rc != 0)); then
        log "FAILED: ${name} (exit ${rc})"
        exit "${rc}"
    fi
}

report_time() {
    local rc=$? secs=${SECONDS}
    if ((rc == 0)); then
        log "OK: wall time $((secs / 60))m$((secs % 60))s"
    else
        log "exit ${rc}: wall time $((secs / 60))m$((secs % 60))s"
    fi
}

main() {
    SECONDS=0
    trap report_time EXIT
    cd "${ORDERLY_ROOT}"

    ensure_venv dev
    ensure_postgres
    ensure_redis
    ensure_chromium

    export DATABASE_URL="postgres://postgres@${PG_HOST}:${PG_PORT}/${PG_DB}"
    export CELERY_BROKER_URL="redis://${REDIS_HOST}:${REDIS_PORT}/${REDIS_DB}"
    # manage.py defaults to config.settings, pytest to config.test_settings
    # (pyproject.toml); a stray value in the caller's shell would override both.
    unset DJANGO_SETTINGS_MODULE

    run_step "ruff check" ruff check .
    run_step "ruff format --check" ruff format --check .
    run_step "makemigrations --check" python manage.py makemigrations --check --dry-run --noinput
    run_step "OpenAPI schema" \
        python manage.py spectacular --validate --fail-on-warn --file /dev/null

    log "==> pytest${*:+ $*}"
    local rc=0
    python -m pytest "$@" || rc=$?
    if ((rc == 5)); then
        log "FAILED: pytest collected no tests (exit 5); a run with no tests is a failure"
        exit 1
    elif ((rc != 0)); then
        log "FAILED: pytest (exit ${rc})"
        exit "${rc}"
    fi
}

# Sourcing this file (e.g. to call ensure_redis alone) defines the functions only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
