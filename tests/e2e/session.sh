#!/usr/bin/env bash
# Runs a command inside a desktop-like session for the real-window tests: call it under
# dbus-run-session. It unlocks a throwaway gnome-keyring (an empty password does not
# unlock on Debian 12), proves the keyring works with a canary, then runs the command
# under a virtual X display.
set -euo pipefail

export WEIXIN_DESK_E2E=1 WEIXIN_DESK_KEYRING_TEST=1 NO_AT_BRIDGE=1
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home"   # where gnome-keyring keeps this session's keyring

eval "$(printf 'weixin-desk-e2e' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
eval "$(gnome-keyring-daemon --start --components=secrets)"

canary="canary-$$"
printf '%s' "$canary" | secret-tool store --label="weixin-desk e2e canary" app weixin-desk-e2e key canary
[ "$(secret-tool lookup app weixin-desk-e2e key canary)" = "$canary" ] || {
  echo "gnome-keyring canary failed: the keyring is not usable" >&2; exit 1; }
secret-tool clear app weixin-desk-e2e key canary

# D-Bus-activated helpers (portals) must see the virtual display too.
exec xvfb-run -a -s "-screen 0 1280x800x24" \
  bash -c 'dbus-update-activation-environment DISPLAY XAUTHORITY 2>/dev/null; exec "$@"' _ "$@"
