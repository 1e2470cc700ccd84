#!/usr/bin/env bash
# lteval quick start: set up (once) and run.
#   ./quickstart.sh demo   set up, then run the main job on the built-in synthetic data
#   ./quickstart.sh test   set up (with test tools), then run the test suite
#   ./quickstart.sh setup  only set up
# Setup creates .venv with Python >= 3.11 and installs lteval (editable) with the
# training extra (torch, timm: the demo trains a model) and the dev extra (pytest and
# the reference libraries the tests check against); it is skipped when nothing changed,
# so re-running is fast. Scoring/validation alone needs only `pip install lteval`.
set -euo pipefail
cd "$(dirname "$0")"

PY="${PYTHON:-python3}"
VENV="${LTEVAL_VENV:-.venv}"
STAMP="$VENV/.lteval-setup"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: lteval needs Python >= 3.11 (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$("$PY" -c 'import sys; print(sys.version.split()[0])')"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "setting up $VENV (first run: a few minutes, torch is large) ..." >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[train,dev]' >"$VENV/setup.log" 2>&1; then
    grep -v "^WARNING: Location" "$VENV/setup.log" | tail -n 40 >&2
    echo "error: installation failed (full log: $VENV/setup.log)" >&2
    exit 1
  fi
  echo "$want" >"$STAMP"
fi

export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
cmd="${1:-demo}"
shift || true
case "$cmd" in
  demo)  exec "$VENV/bin/lteval" demo "$@" ;;
  test)  exec "$VENV/bin/python" -m pytest "$@" ;;
  setup) echo "ready: $VENV/bin/lteval" ;;
  *) echo "usage: ./quickstart.sh demo|test|setup [args...]" >&2; exit 2 ;;
esac
