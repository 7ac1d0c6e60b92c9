# Sourced by bin/dxpulse and bin/test: make sure .venv holds this checkout's dependencies,
# exactly as requirements-dev.lock pins them (hash-checked), so the tests run on the versions
# the image gets from requirements.lock (the dev lock holds those pins unchanged).
# The install uses uv when it can (a cold install from the lock: seconds instead of minutes):
# the uv on PATH, else uv pip-installed from PyPI into $VENV/.uv, else plain pip.
# DXPULSE_INSTALLER=pip skips uv; DXPULSE_VENV and DXPULSE_PYTHON pick the venv and its Python.
set -euo pipefail
DXPULSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DXPULSE_VENV:-$DXPULSE_ROOT/.venv}"
PY="${DXPULSE_PYTHON:-python3}"
DXPULSE_LOCK="$DXPULSE_ROOT/requirements-dev.lock"
DXPULSE_UV_VERSION=0.13.9
# The locks pin CPython 3.11 wheels (the image's Python): another Python could not use them.
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "dxpulse: error: $(basename "$DXPULSE_LOCK") is for CPython 3.11 ($PY is $("$PY" -V 2>&1));" \
    "set DXPULSE_PYTHON to a python3.11" >&2
  exit 1
fi
case "${DXPULSE_INSTALLER:-auto}" in
  auto | uv | pip) ;;
  *) echo "dxpulse: error: DXPULSE_INSTALLER must be auto, uv or pip, not '$DXPULSE_INSTALLER'" >&2
     exit 1 ;;
esac

# The uv to install with, or nothing (then pip): PATH's, a previous run's, or a fresh one.
_dxpulse_uv() {
  [ "${DXPULSE_INSTALLER:-auto}" != pip ] || return 0
  if command -v uv >/dev/null 2>&1; then
    command -v uv
  elif [ -x "$VENV/.uv/bin/uv" ] \
    || "$VENV/bin/python" -m pip install -q --target "$VENV/.uv" "uv==$DXPULSE_UV_VERSION" >&2; then
    echo "$VENV/.uv/bin/uv"
  else
    echo "dxpulse: uv could not be installed, installing with pip" >&2
  fi
}

# The lock's pins (only wheels, each hash-checked, nothing else resolved), then this checkout
# editable without its dependencies, built by the locked setuptools (no build isolation).
# chdb and chdb-core both ship chdb/__init__.py (urllib3-future and urllib3 urllib3/): pip leaves
# chdb's (urllib3-future's), as in the image. uv installs in parallel, so either copy may be
# left: those two are installed again after (tests/unit_tests/test_locks.py checks the files).
_dxpulse_install() {
  "$PY" -m venv "$VENV"
  local uv
  uv="$(_dxpulse_uv)"
  if [ -n "$uv" ]; then
    # Trust the system's CA store, as pip does: uv's own bundle fails behind a TLS-inspecting
    # proxy unless SSL_CERT_FILE is set (seen on a clean environment: uv failed, pip took over).
    export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
    "$uv" pip sync --python "$VENV/bin/python" --require-hashes --only-binary :all: "$DXPULSE_LOCK" \
      && "$uv" pip install --python "$VENV/bin/python" --require-hashes --only-binary :all: \
        --no-deps --reinstall-package chdb --reinstall-package urllib3-future -r "$DXPULSE_LOCK" \
      && "$uv" pip install --python "$VENV/bin/python" --no-deps --no-build-isolation \
        -e "$DXPULSE_ROOT" \
      && return 0
    [ "${DXPULSE_INSTALLER:-auto}" != uv ] || return 1
    echo "dxpulse: the install with uv failed, retrying with pip" >&2
  elif [ "${DXPULSE_INSTALLER:-auto}" = uv ]; then
    echo "dxpulse: DXPULSE_INSTALLER=uv but uv is neither on PATH nor installable" >&2
    return 1
  fi
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --require-hashes \
    --only-binary=:all: -r "$DXPULSE_LOCK" \
    && "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
      --no-build-isolation -e "$DXPULSE_ROOT"
}

# Reinstalled when the project, the lock or this procedure changes.
stamp="$VENV/.dxpulse-installed-$(cat "$DXPULSE_ROOT/pyproject.toml" "$DXPULSE_LOCK" \
  "${BASH_SOURCE[0]}" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "dxpulse: installing dependencies from $(basename "$DXPULSE_LOCK") into $VENV (first run only) ..." >&2
  mkdir -p "$VENV"
  log="$VENV/install.log"
  if ! _dxpulse_install >"$log" 2>&1; then
    echo "dxpulse: error: dependency install failed, see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  rm -f "$VENV"/.dxpulse-installed-*
  touch "$stamp"
fi
