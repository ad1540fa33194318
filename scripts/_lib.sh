# shellcheck shell=bash
# Shared helpers for scripts/demo.sh and scripts/test.sh. Sourced, never run.
#
# Everything here must work as root with no TTY and no stdin (CI runs
# `bash .ci/run` with CI=true), and on a fresh Debian machine that has only
# Python 3.11.

# Repo root: the parent of this file's directory, whatever the caller's cwd.
ORDERLY_ROOT="$(cd -P -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd)"
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

log() { printf '[orderly] %s\n' "$*" >&2; }
die() {
    printf '[orderly] ERROR: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo when it
# works without a password prompt (we never have a TTY to answer one).
as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "needs root (or passwordless sudo) to run: $*"
    fi
}

# apt-get install, with a single `apt-get update` per script run.
_ORDERLY_APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "apt-get not found: install these packages by hand, then re-run: $*"
    if [[ -z ${_ORDERLY_APT_UPDATED} ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=300 update -qq </dev/null
        _ORDERLY_APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 install -y -q "$@" </dev/null
}

# wait_for NAME SECONDS COMMAND...: poll COMMAND every half second until it
# succeeds; fail after SECONDS.
wait_for() {
    local name=$1 seconds=$2 i
    shift 2
    for ((i = 0; i < seconds * 2; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.5
    done
    log "${name} is still not ready after ${seconds}s"
    return 1
}

# --- Python virtualenv -------------------------------------------------------

# A Python >= 3.11 interpreter: python3.11 first, then python3.
find_python() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "${candidate}" >/dev/null 2>&1 &&
            "${candidate}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            printf '%s\n' "${candidate}"
            return 0
        fi
    done
    return 1
}

# The sha256 that the stamp records: requirements.txt + requirements-dev.txt.
requirements_sha() {
    cat "${ORDERLY_ROOT}/requirements.txt" "${ORDERLY_ROOT}/requirements-dev.txt" |
        sha256sum | cut -d' ' -f1
}

# ensure_venv runtime|dev
#   Creates .venv if it does not exist, installs requirements.txt (runtime) or
#   requirements-dev.txt (dev, which includes runtime) unless the stamp
#   .venv/.requirements.sha already matches, then puts .venv/bin first on PATH.
#   The stamp is "<sha256> <profile>": a dev install also satisfies runtime,
#   a runtime install does not satisfy dev.
ensure_venv() {
    local profile=$1 reqfile venv="${ORDERLY_ROOT}/.venv" py want have
    case ${profile} in
        runtime) reqfile=requirements.txt ;;
        dev) reqfile=requirements-dev.txt ;;
        *) die "ensure_venv: unknown profile '${profile}'" ;;
    esac

    if [[ ! -e ${venv} ]]; then
        py=$(find_python) || die "Python 3.11 or newer not found (tried python3.11, python3)"
        log "creating .venv with $(command -v "${py}") ($("${py}" -c 'import platform; print(platform.python_version())'))"
        if ! "${py}" -m venv "${venv}"; then
            # Debian's own python3 ships venv/ensurepip in a separate package.
            rm -rf "${venv}"
            log "'${py} -m venv' failed; installing Debian's python3-venv and retrying"
            apt_install python3-venv
            "${py}" -m venv "${venv}" || {
                rm -rf "${venv}"
                die "could not create .venv with ${py}"
            }
        fi
    fi
    if ! "${venv}/bin/python" -c '' 2>/dev/null; then
        die ".venv exists but .venv/bin/python does not run; remove .venv and re-run"
    fi

    want=$(requirements_sha)
    have=$(cat "${venv}/.requirements.sha" 2>/dev/null || true)
    if [[ ${have} == "${want} dev" || ${have} == "${want} ${profile}" ]]; then
        log "requirements up to date (.venv/.requirements.sha matches)"
    else
        log "pip install -r ${reqfile} (first run takes a minute)"
        "${venv}/bin/python" -m pip install -q --progress-bar off -r "${ORDERLY_ROOT}/${reqfile}"
        printf '%s %s\n' "${want}" "${profile}" >"${venv}/.requirements.sha"
    fi

    export VIRTUAL_ENV="${venv}"
    export PATH="${venv}/bin:${PATH}"
    hash -r
}
