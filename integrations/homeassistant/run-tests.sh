#!/usr/bin/env bash
# Run the Home Assistant integration's tests on a real Home Assistant core.
#
# They get their own venv, .venv-ha, because Home Assistant's pins clash with Sasha's
# requirements (paho-mqtt 1.6 against >=2.1, pydantic 1 against 2, hassil 1 against 3). Sasha
# is not installed there: the tests start `sasha run` and `sasha sim` with SASHA_PYTHON, by
# default the repository's .venv (`make` at the repository root creates it).
#
# Usage: integrations/homeassistant/run-tests.sh [pytest arguments]
# Environment: PYTHON (interpreter for .venv-ha, default python3, 3.11 or 3.12),
#              SASHA_PYTHON (interpreter with Sasha installed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

python="${PYTHON:-python3}"
venv="$here/.venv-ha"
stamp="$venv/.installed"
export SASHA_PYTHON="${SASHA_PYTHON:-$repo/.venv/bin/python}"

if [ ! -f "$stamp" ] || [ requirements-test.txt -nt "$stamp" ] || [ constraints-test.txt -nt "$stamp" ]; then
    started=$(date +%s)
    if ! test -x "$venv/bin/python"; then
        # Home Assistant 2024.3 supports 3.11 and 3.12 (these pins were tested on 3.11); its numpy
        # pin has no wheels for 3.13.
        if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))'; then
            echo "$python is not Python 3.11 or 3.12; set PYTHON to one (e.g. PYTHON=python3.11)" >&2
            exit 1
        fi
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r requirements-test.txt -c constraints-test.txt
    touch "$stamp"
    echo "installed .venv-ha in $(($(date +%s) - started)) s"
fi

if ! "$SASHA_PYTHON" -c 'import sasha' 2>/dev/null; then
    echo "SASHA_PYTHON=$SASHA_PYTHON cannot import sasha: run 'make' at the repository root" \
        "(it creates .venv), or point SASHA_PYTHON at an interpreter that has Sasha installed" >&2
    exit 1
fi

exec "$venv/bin/python" -m pytest "$@"
