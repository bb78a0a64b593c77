#!/usr/bin/env bash
# One command for the plan benchmark, as a user would meet pairctl: installs what it needs from
# Debian's packages (Ansible, the lab's tools), builds pairctl, packs it, installs the tarball
# globally into a private prefix (npm install -g --prefix), boots the lab and measures the
# installed binary at 0 and 50 ms RTT through a delay proxy: plan (vs Ansible), 8 hosts, apply
# adding a guest, a guest's join, status, and cold start (bench/latency.ts).
#
#   bash bench/run.sh                    # or: npm run bench
#   BENCH_ROUNDS=9 bash bench/run.sh     # more rounds (default 7)
#   BENCH_INSTALLED=1 bash bench/run.sh  # then also cold vs warm host, installed vs checkout (plan-installed.ts, ~80 s a round)
#   BENCH_SCALING=1 bash bench/run.sh    # then also 500 guests vs 5 (plan-converged.ts)
#
# Needs root (the lab boots systemd-nspawn machines). Leaves the prefix in $BENCH_PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (the lab boots machines with systemd-nspawn)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive

need=()
command -v ansible-playbook >/dev/null || need+=(ansible-core)
for t in debootstrap:debootstrap systemd-nspawn:systemd-container zstd:zstd ip:iproute2 ssh:openssh-client nsenter:util-linux; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-fund --no-audit

npm run build --silent
PREFIX=${BENCH_PREFIX:-/tmp/pairctl-bench-prefix}
pack=$(mktemp -d)
trap 'rm -rf "$pack"' EXIT
npm pack --silent --pack-destination "$pack" >/dev/null
rm -rf "$PREFIX" "$PREFIX-noscripts"
# As a user installs it (install scripts run: ssh2 builds its optional native crypto binding).
npm install -g --prefix "$PREFIX" --no-fund --no-audit --loglevel=error "$pack"/pairctl-*.tgz >/dev/null
# The same without install scripts: ssh2 without its native binding, to measure what that costs.
npm install -g --prefix "$PREFIX-noscripts" --ignore-scripts --no-fund --no-audit --loglevel=error "$pack"/pairctl-*.tgz >/dev/null
binding() { (cd "$1/lib/node_modules/pairctl" && node -e "process.stdout.write(String(require('ssh2/lib/protocol/crypto.js').bindingAvailable))"); }
echo "installed pairctl $(node -p "require('$PREFIX/lib/node_modules/pairctl/package.json').version") in $PREFIX (ssh2 native binding: $(binding "$PREFIX")), and in $PREFIX-noscripts (binding: $(binding "$PREFIX-noscripts"))"
echo "node $(node --version), npm $(npm --version), $(ansible-playbook --version 2>/dev/null | sed -n 1p), $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

export PAIRCTL_BENCH_BIN="$PREFIX/bin/pairctl" PAIRCTL_BENCH_BIN_NOSCRIPTS="$PREFIX-noscripts/bin/pairctl"
node_modules/.bin/tsx bench/latency.ts
if [ "${BENCH_INSTALLED:-0}" = 1 ]; then node_modules/.bin/tsx bench/plan-installed.ts; fi
if [ "${BENCH_SCALING:-0}" = 1 ]; then node_modules/.bin/tsx bench/plan-converged.ts; fi
echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
