#!/usr/bin/env bash
# Create .venv from nothing and install tuneback; with --test also the test tools, the browsers (Debian's Chromium,
# and WebKit: WebKitWebDriver + MiniBrowser under Xvfb), axe-core for the accessibility checks, and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
target=".[all]"
[ "$want_test" = 1 ] && target=".[all,test]"
echo "==> installing tuneback into .venv (torch==2.13.0 CPU wheel)"
.venv/bin/pip install --quiet --disable-pip-version-check -e "$target" 2> >(grep -v "is ignored: it is neither" >&2)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$want_test" = 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "==> installing Debian chromium + chromium-driver"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  if ! command -v WebKitWebDriver >/dev/null || ! command -v Xvfb >/dev/null; then
    echo "==> installing Debian webkit2gtk-driver (WebKitWebDriver + MiniBrowser) + xvfb"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq webkit2gtk-driver xvfb >/dev/null
  fi
  axe_version=4.14.1  # axe-core, the accessibility engine the browser tests run on every page
  if [ ! -f .cache/axe-core/axe.min.js ]; then
    if ! command -v npm >/dev/null; then
      echo "==> installing Debian npm (to fetch axe-core)"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq npm >/dev/null
    fi
    echo "==> fetching axe-core $axe_version from the npm registry"
    mkdir -p .cache/axe-core
    (cd .cache/axe-core && npm pack --silent "axe-core@$axe_version" >/dev/null \
      && tar -xzf "axe-core-$axe_version.tgz" --strip-components=1 package/axe.min.js package/LICENSE \
      && rm -f "axe-core-$axe_version.tgz")
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "==> starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null; then
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi
