#!/bin/sh
# Builds (once) a minimal Debian 12 root that can boot systemd under
# systemd-nspawn, for the real-systemd test. Usage: build-root.sh DIR
#
# DIR is built under a temporary name and renamed when complete, so a build
# that was interrupted is never taken for a finished one. The mirror comes
# from the host's own apt sources: the test names no host of its own.
set -eu

target=${1:?usage: build-root.sh DIR}
suite=bookworm
packages=systemd,systemd-sysv,dbus,libstdc++6

if [ -x "$target/usr/lib/systemd/systemd" ] && [ -f "$target/.agentpool-root-complete" ]; then
  echo "rootfs: using the cached root at $target"
  exit 0
fi

# The first deb822 stanza or one-line entry that serves $suite (not -security).
mirror=$(
  {
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && cat "$f" && echo; done
  } | awk -v suite="$suite" '
    /^[[:space:]]*$/ { if (uris != "" && hit) { found = uris; exit } uris = ""; hit = 0; next }
    /^URIs:/ { uris = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
    END { if (found == "" && uris != "" && hit) found = uris; if (found != "") print found }
  '
)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk -v suite="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == suite) { print $i; exit } } }' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
  echo "rootfs: no apt source for $suite in /etc/apt/sources.list*" >&2
  exit 3
fi

parent=$(dirname "$target")
mkdir -p "$parent"
partial="$target.partial-$$"
rm -rf "$partial"
trap 'rm -rf "$partial"' EXIT
echo "rootfs: debootstrap $suite from $mirror into $partial"
debootstrap --variant=minbase --include="$packages" "$suite" "$partial" "$mirror"
# An empty machine id: each boot of a copy gets one of its own.
: >"$partial/etc/machine-id"
rm -rf "$partial/var/cache/apt/archives"/*.deb "$partial/var/lib/apt/lists"/*_Packages
touch "$partial/.agentpool-root-complete"
rm -rf "$target"
mv "$partial" "$target"
trap - EXIT
echo "rootfs: ready at $target"
