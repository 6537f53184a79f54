#!/bin/sh
# Installs agentpool as a systemd service, from a built checkout
# (npm ci && npm run build):
#
#   sudo systemd/install.sh               on this host
#   sudo systemd/install.sh --root DIR    into the OS tree at DIR (an image or a
#                                         container); the host's systemd is left alone
#   --enable                              also enable the unit at boot
#
# What it does, in order: copies the program to /opt/agentpool and runs
# `npm ci --omit=dev` there; creates the system user and group agentpool
# (sysusers.d); creates /etc/agentpool (root:agentpool 0750) and, if there is
# none yet, the example config.yml (0640) (tmpfiles.d); installs the unit;
# `systemctl daemon-reload`. Running it again updates the program and keeps
# /etc/agentpool as it is.
set -eu
umask 022

die() {
  echo "install.sh: $*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}
step() {
  echo "install.sh: $*"
}

root=
enable=no
while [ $# -gt 0 ]; do
  case $1 in
  --root)
    [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }
    root=$2
    shift 2
    ;;
  --root=*)
    root=${1#--root=}
    shift
    ;;
  --enable)
    enable=yes
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "install.sh: unknown option $1" >&2
    usage >&2
    exit 2
    ;;
  esac
done

if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(cd "$root" && pwd)
  [ "$root" = / ] && root=
fi
[ "$(id -u)" = 0 ] || die "run it as root (sudo): it creates a system user and writes to /etc and /opt"
src=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$src/dist/daemon/cli.js" ] || die "$src/dist is missing: build first (npm ci && npm run build)"
for tool in npm systemd-sysusers systemd-tmpfiles; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
# --root: the tools work on the tree at DIR, never on the host's users or manager.
at_root=${root:+--root=$root}

dest=$root/opt/agentpool
step "program -> $dest"
mkdir -p "$dest"
# A fresh copy each time, so a file dropped from dist/ does not linger.
rm -rf "$dest/dist.new" "$dest/systemd.new"
cp -R "$src/dist" "$dest/dist.new"
cp -R "$src/systemd" "$dest/systemd.new"
rm -rf "$dest/dist" "$dest/systemd"
mv "$dest/dist.new" "$dest/dist"
mv "$dest/systemd.new" "$dest/systemd"
cp "$src/package.json" "$src/package-lock.json" "$src/README.md" "$dest/"
(cd "$dest" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)

step "user and group agentpool -> $root/etc/sysusers.d/agentpool.conf"
mkdir -p "$root/etc/sysusers.d"
cp "$src/systemd/agentpool.sysusers" "$root/etc/sysusers.d/agentpool.conf"
# shellcheck disable=SC2086 # $at_root is one word or none
systemd-sysusers $at_root - <"$src/systemd/agentpool.sysusers"

step "folders -> $root/etc/tmpfiles.d/agentpool.conf"
mkdir -p "$root/etc/tmpfiles.d"
cp "$src/systemd/agentpool.tmpfiles" "$root/etc/tmpfiles.d/agentpool.conf"
# shellcheck disable=SC2086
systemd-tmpfiles --create $at_root - <"$src/systemd/agentpool.tmpfiles"
if [ ! -e "$root/etc/agentpool/config.yml" ]; then
  step "example config -> $root/etc/agentpool/config.yml"
  cp "$src/config/config.yml" "$root/etc/agentpool/config.yml"
  # shellcheck disable=SC2086 # again, for its owner and mode
  systemd-tmpfiles --create $at_root - <"$src/systemd/agentpool.tmpfiles"
fi

step "unit -> $root/etc/systemd/system/agentpool.service"
mkdir -p "$root/etc/systemd/system"
cp "$src/systemd/agentpool.service" "$root/etc/systemd/system/agentpool.service"
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
if [ "$enable" = yes ]; then
  # shellcheck disable=SC2086 # with --root, systemctl only edits the tree
  systemctl $at_root enable agentpool.service
fi

step "done. Put the agents in /etc/agentpool/config.yml (keys: 0640 root:agentpool or 0600), then:"
echo "  systemctl enable --now agentpool    # or: systemctl start agentpool"
echo "  journalctl -u agentpool -f -o cat"
