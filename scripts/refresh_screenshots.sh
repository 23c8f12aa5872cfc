#!/usr/bin/env bash
# Refresh the README's screenshots: run the browser tests (they write test-artifacts/screenshots/),
# then copy what they took to docs/. The train and models shots need DLAPP_DATA_DIR (tests/run.sh finds ../shared/data).
#   bash scripts/refresh_screenshots.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test-artifacts/screenshots   # no stale shot from an earlier run gets copied
bash tests/run.sh tests/test_browser.py "$@"
shopt -s nullglob
shots=(test-artifacts/screenshots/screenshot-*.png)
[ ${#shots[@]} -gt 0 ] || { echo "no screenshots were taken" >&2; exit 1; }
cp -v "${shots[@]}" docs/
