#!/usr/bin/env bash
# Quick start: set up .venv, migrate, seed demo data and serve on
# http://127.0.0.1:${PORT:-8000}. Needs only Python 3.11.
#
# Uses the embedded defaults unless the environment (or .env) says otherwise:
# DATABASE_URL unset -> SQLite file db.sqlite3; CELERY_BROKER_URL unset ->
# Celery runs tasks eagerly in the web process; EMAIL_URL unset -> console.
set -euo pipefail

# shellcheck source=scripts/_lib.sh
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/_lib.sh"
cd "${ORDERLY_ROOT}"

PORT=${PORT:-8000}

ensure_venv runtime

if [[ -n ${DATABASE_URL:-} ]]; then
    db_note="DATABASE_URL from the environment"
else
    db_note="SQLite (db.sqlite3)"
fi
if [[ -n ${CELERY_BROKER_URL:-} ]]; then
    celery_note="broker from CELERY_BROKER_URL (start a worker: see README)"
else
    celery_note="eager (tasks run in the web process)"
fi
if [[ -n ${EMAIL_URL:-} ]]; then
    email_note="sent as EMAIL_URL says"
else
    email_note="printed to this console"
fi

# The demo is a development server: DEBUG on (admin static files, browsable API).
export DEBUG="${DEBUG:-true}"

log "migrate (${db_note})"
python manage.py migrate --noinput
log "seed_demo"
python manage.py seed_demo

base="http://127.0.0.1:${PORT}"
cat <<EOF

  Orderly demo
  ------------
  App:        ${base}/
  API docs:   ${base}/api/docs/
  Admin:      ${base}/admin/
  Logins:     see README.md, section "Demo logins"
  Database:   ${db_note}
  Celery:     ${celery_note}
  Email:      ${email_note}
  Stop with Ctrl-C.

EOF

exec python manage.py runserver "127.0.0.1:${PORT}"
