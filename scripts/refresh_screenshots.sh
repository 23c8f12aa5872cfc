#!/usr/bin/env bash
# Refresh the README's screenshots: run the browser tests (they write test-artifacts/screenshots/),
# then copy what they took to docs/. The train and models shots need DLAPP_DATA_DIR (tests/run.sh finds ../shared/data).
#   bash scripts/refresh_screenshots.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test-artifacts/screenshots   # no stale shot from an earlier run gets copied
bash tests/run.sh tests/test_browser.py "$@"
# Only the shots the README shows (the tests also take phone-width and other shots to look at).
for name in $(grep -o 'docs/screenshot-[a-z0-9-]*\.png' README.md | sort -u | xargs -n1 basename); do
  [ -f "test-artifacts/screenshots/$name" ] || { echo "the tests took no $name" >&2; exit 1; }
  cp -v "test-artifacts/screenshots/$name" docs/
done
