#!/usr/bin/env bash
# Make sure a Chromium that Playwright can drive is available; called by `make install`.
#
# Order, first hit wins:
#   1. $TASKDECK_BROWSER_PATH, if set and executable (set in the Docker image);
#   2. a Chromium on PATH: chromium, chromium-browser, google-chrome (Debian's `chromium`
#      package is what the workers are built and measured against);
#   3. a browser Playwright already downloaded, or `playwright install chromium` bounded by a
#      timeout (it needs the internet; it fails fast or times out on machines without it);
#   4. as root with apt-get: `apt-get install chromium`;
#   5. otherwise: say how to get one, exit 1.
# Then, for a headless worker (the default), its headless shell: Debian's
# `chromium-headless-shell` when Debian's `chromium` is what was found and we are root with apt-get
# (the same engine without the browser's windows; a headless worker prefers it, see
# workers/chromium.py: find_chromium). Best effort: without it the full Chromium is used.
#
# Quick when a browser is present (no network, no subprocess beyond `--version`).
# Environment: VENV (default .venv), PLAYWRIGHT_INSTALL_TIMEOUT (seconds, default 60).
set -euo pipefail

VENV="${VENV:-.venv}"
PLAYWRIGHT_INSTALL_TIMEOUT="${PLAYWRIGHT_INSTALL_TIMEOUT:-60}"

say() { printf 'ensure_chromium: %s\n' "$*" >&2; }

# A browser "works" if it prints its version. Debian's /usr/bin/chromium wrapper may print
# shell noise on stderr (its /dev/shm probe); that is not an error, so stderr is dropped.
works() {
    local version
    version="$(timeout 30 "$1" --version 2>/dev/null | head -n 1)" || return 1
    [ -n "$version" ] || return 1
    say "using $1 ($version)"
}

on_path() {
    local name path
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        if path="$(command -v "$name" 2>/dev/null)" && works "$path"; then
            return 0
        fi
    done
    return 1
}

playwright_cached() {
    local root="${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}" exe
    for exe in "$root"/chromium-*/chrome-linux*/chrome; do
        if [ -x "$exe" ]; then
            say "using Playwright's own Chromium: $exe"
            return 0
        fi
    done
    return 1
}

# Debian's headless shell beside Debian's chromium; tried once per venv (a marker remembers a
# failure, so a machine without the package does not ask apt-get on every `make install`).
headless_shell() {
    local marker="$VENV/.no-headless-shell"
    command -v chromium-headless-shell >/dev/null 2>&1 && return 0
    [ -e "$marker" ] && return 0
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
    dpkg -s chromium >/dev/null 2>&1 || return 0
    say "installing Debian's chromium-headless-shell (the headless workers' browser)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y -qq --no-install-recommends chromium-headless-shell </dev/null >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium-headless-shell </dev/null; }; then
        works "$(command -v chromium-headless-shell)" && return 0
    fi
    say "no chromium-headless-shell: the workers use the full Chromium"
    mkdir -p "$VENV" && touch "$marker"
    return 0
}

# 1. explicit path
if [ -n "${TASKDECK_BROWSER_PATH:-}" ]; then
    if [ -x "$TASKDECK_BROWSER_PATH" ] && works "$TASKDECK_BROWSER_PATH"; then
        exit 0
    fi
    say "TASKDECK_BROWSER_PATH=$TASKDECK_BROWSER_PATH is not an executable browser; looking elsewhere"
fi

# 2. system Chromium
on_path && headless_shell && exit 0

# 3. Playwright's download (already there, or fetched now within a time bound)
playwright_cached && exit 0
if [ -x "$VENV/bin/python" ]; then
    say "no system Chromium; trying 'playwright install chromium' (at most ${PLAYWRIGHT_INSTALL_TIMEOUT}s)"
    if timeout --kill-after=5 "$PLAYWRIGHT_INSTALL_TIMEOUT" \
        "$VENV/bin/python" -m playwright install chromium </dev/null; then
        playwright_cached && exit 0
        say "playwright install reported success but no browser was found"
    else
        say "playwright install chromium failed or timed out (no internet?)"
    fi
fi

# 4. Debian package
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-liberation </dev/null; then
        on_path && headless_shell && exit 0
    fi
    say "apt-get install chromium failed"
fi

# 5. give up, clearly
cat >&2 <<'EOF'

ensure_chromium: no Chromium found. Taskdeck's bots need one. Any of these works:
  * Debian/Ubuntu:   sudo apt-get install chromium      (Ubuntu: chromium-browser)
  * Playwright:      .venv/bin/python -m playwright install --with-deps chromium
  * Your own build:  export TASKDECK_BROWSER_PATH=/path/to/chromium
Then run the make target again.
EOF
exit 1
