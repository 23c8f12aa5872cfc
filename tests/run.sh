#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs them all.
#   bash tests/run.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -r requirements.txt -r requirements-test.txt

if ! command -v chromium >/dev/null 2>&1; then  # browser tests drive Debian's Chromium, never a downloaded one
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Real data for the tests: ../shared/data when it sits beside the checkout (CI), else whatever is set.
if [ -z "${DLAPP_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  DLAPP_DATA_DIR="$(cd ../shared/data && pwd)"
  export DLAPP_DATA_DIR
fi
export GRADIO_ANALYTICS_ENABLED=False PYTHONUNBUFFERED=1

# Every run ends with its 30 slowest tests (setup and teardown apart), so a CI log shows where the time went;
# a --durations given here overrides it.
exec python -m pytest --durations=30 "$@"
