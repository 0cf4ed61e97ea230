#!/usr/bin/env bash
# The test suite: installs dependencies (idempotent), builds, runs every test with ctest.
# Tests that need ../shared (reference fixtures) skip with a reason when it is absent,
# and fail when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
