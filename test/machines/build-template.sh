#!/usr/bin/env bash
# Builds (once) the Debian rootfs every test machine is copied from, cached as a zstd tarball
# under /var/cache/pairctl-test keyed by release and package list, so later runs unpack it in
# ~1 s. Usage: build-template.sh [bookworm|trixie|forky] (default: $PAIRCTL_TEST_RELEASE, else
# bookworm). Prints the tarball's path. Needs root, debootstrap, zstd and flock.
set -euo pipefail
PACKAGES="systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,openssh-client,tmux,sudo,autossh,iproute2,procps,curl,python3,ufw"
SUITE=${1:-${PAIRCTL_TEST_RELEASE:-bookworm}}
case "$SUITE" in
  bookworm | trixie) script="" ;;
  # Bookworm's debootstrap has no forky script; testing bootstraps with sid's (TESTING.md).
  forky) script=/usr/share/debootstrap/scripts/sid ;;
  *) echo "build-template: unknown release '$SUITE' (want bookworm, trixie or forky)" >&2; exit 2 ;;
esac
CACHE_DIR=${PAIRCTL_TEST_CACHE:-/var/cache/pairctl-test}
# The key format is unchanged from the bookworm-only days so existing caches stay valid.
key=$(printf '%s %s v2' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)
tarball="$CACHE_DIR/rootfs-$SUITE-$key.tar.zst"
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi

mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

mkdir -p "$CACHE_DIR"
# Concurrent callers of one release (parallel test files, several engineers) wait for one build
# instead of starting their own; different releases build side by side. The kernel releases the
# lock if this script dies.
exec 9>"$CACHE_DIR/.build-$SUITE.lock"
flock -w 900 9 || { echo "build-template: timed out waiting for another $SUITE build" >&2; exit 1; }
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
work=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
# shellcheck disable=SC2086 # $script is empty or one path
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" $script >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
# Without this link dbus and logind disagree on the machine id and user units fail.
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
chroot "$root" systemctl enable systemd-networkd ssh >/dev/null 2>&1
# ufw is installed (the relay firewall is exercised later) but disabled by default.
chroot "$root" systemctl disable ufw >/dev/null 2>&1 || true
# Host keys and machine id are made per copy; none may be shared.
rm -f "$root"/etc/ssh/ssh_host_* "$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner --xattrs --acls -cf - . | zstd -q -3 -T0 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$tarball"
echo "$tarball"
