#!/usr/bin/env bash
# What the test suite needs beyond .venv, installed when missing (make test and make check call
# this; so does CI, through make test). Debian packages only, one apt-get update for all:
# - chromium: the browser tests (tests/browser_support.py); Playwright never downloads a browser.
# - bubblewrap: every submission's kernel runs in bwrap (grading/sandboxing/sandbox.py).
# - postgresql: tests/pgserver.py starts a throwaway server itself; nothing is started here.
# - libseccomp2: the sandbox's seccomp filter (grading/sandboxing/syscall_filter.py, through pyseccomp).
# - python3.11-venv: make hub builds the hub's own venv from Debian's python3.11, which the hub's
#   users can run (tests/test_hub.py); iproute2: that test's `ss`.
# Then the hub test's Python environment, built once per machine (about a minute) so that its
# time is not a test's.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
ldconfig -p | grep -q 'libseccomp\.so\.2' || missing+=(libseccomp2)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
/usr/bin/python3.11 -c 'import ensurepip' 2>/dev/null || missing+=(python3.11-venv)
command -v ss >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "The tests need these Debian packages, which only root can install: ${missing[*]}" >&2
        echo "(sudo apt-get install ${missing[*]}, then make test again)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" -eq 0 ]; then   # the hub tests run as root only
    HUB_VENV=/var/tmp/gradient-checking-hub-test-venv /usr/bin/python3.11 hub/hubctl.py venv
fi
