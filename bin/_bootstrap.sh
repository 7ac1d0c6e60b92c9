# Sourced by bin/dxpulse and bin/test: make sure .venv holds this checkout's dependencies.
set -euo pipefail
DXPULSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DXPULSE_VENV:-$DXPULSE_ROOT/.venv}"
PY="${DXPULSE_PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "dxpulse: error: Python >= 3.11 is required ($PY is $("$PY" -V 2>&1))" >&2
  exit 1
fi
stamp="$VENV/.dxpulse-installed-$(cat "$DXPULSE_ROOT/pyproject.toml" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "dxpulse: installing dependencies into $VENV (first run only) ..." >&2
  "$PY" -m venv "$VENV"
  log="$VENV/install.log"
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip \
         && "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "$DXPULSE_ROOT[dev]"; } >"$log" 2>&1; then
    echo "dxpulse: error: dependency install failed, see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  rm -f "$VENV"/.dxpulse-installed-*
  touch "$stamp"
fi
