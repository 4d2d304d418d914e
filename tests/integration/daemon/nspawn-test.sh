#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# nspawn-test.sh SCRIPT [ARGS...]
#
# Runs a daemon test script inside a container where systemd is PID 1 with a real system bus: this
# machine's own /usr booted by systemd-nspawn (--volatile=yes: a fresh /etc and /var), with the source
# and build trees bound read-only at their own paths and chv's bus policy installed. The script runs
# as a transient service of that systemd (systemd-run --wait --pipe), so that it lives in the
# container's cgroup tree as a daemon would. Exit status: the script's; 77 (skip) where nspawn is
# missing or cannot boot here. See docs/testing.md and notes on nspawn's pitfalls below.
set -euo pipefail

script=$1
shift
skip() { echo "SKIP: $*"; exit 77; }

command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (tools/install-deps test: systemd-container)"
[ "$(id -u)" = 0 ] || skip "systemd-nspawn needs root"
[ -d /sys/fs/cgroup/systemd ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || skip "no cgroup hierarchy for systemd"

src=${CHV_SOURCE_ROOT:?}
build=$(cd "$(dirname "${CHVD:?}")/../.." && pwd)
work=$(mktemp -d)
machine=chvtest$$
cg=chv-nspawn-test.$$
nspawn_pid=

cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        # A clean poweroff; if that does not end it, kill the container's PID 1, never nspawn itself.
        kill -TERM "$nspawn_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$nspawn_pid" 2>/dev/null && [ -n "${leader:-}" ]; then
            kill -KILL "$leader" 2>/dev/null || true
            wait "$nspawn_pid" 2>/dev/null || true
        fi
    fi
    # nspawn leaves payload/ and supervisor/ below: innermost first.
    for h in systemd unified; do
        [ -d "/sys/fs/cgroup/$h/$cg" ] && find "/sys/fs/cgroup/$h/$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# nspawn makes payload/ and supervisor/ below its own cgroup: give it one of its own.
enter_cgroup=
for h in systemd unified; do
    if [ -d "/sys/fs/cgroup/$h" ] && mkdir -p "/sys/fs/cgroup/$h/$cg" 2>/dev/null; then
        enter_cgroup+="echo \$\$ > /sys/fs/cgroup/$h/$cg/cgroup.procs; "
    fi
done

binds=(--bind-ro="$src" --bind-ro="$src/dbus/org.cloudhypervisor.conf:/etc/dbus-1/system.d/org.cloudhypervisor.conf")
[ "$build" = "$src" ] || [ "${build#"$src"/}" != "$build" ] || binds+=(--bind-ro="$build")

bash -c "$enter_cgroup exec systemd-nspawn -D / --volatile=yes --register=no --keep-unit --private-network \
    --console=read-only --machine=$machine $(printf '%q ' "${binds[@]}") --boot -- systemd.firstboot=off" \
    >"$work/console.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1: nspawn's child whose command is systemd.
leader=
for _ in $(seq 1 200); do
    kill -0 "$nspawn_pid" 2>/dev/null || break
    for c in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
        [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && leader=$c
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
if [ -z "$leader" ]; then
    tail -20 "$work/console.log"
    skip "systemd-nspawn did not boot here"
fi
# systemctl can talk to systemd once its private socket exists; then it waits for the boot to end.
state=
for _ in $(seq 1 600); do
    state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running --wait 2>"$work/state.err" || true)
    [ -n "$state" ] && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.1
done
case $state in
running|degraded) ;;
*) tail -20 "$work/console.log"; cat "$work/state.err"; skip "the container's systemd did not come up (state: ${state:-none})" ;;
esac

envs=()
for v in CHVD CHVCTL BUS_CALL CHV_VMM CHV_TEST_GUEST CHV_SOURCE_ROOT; do
    [ -n "${!v:-}" ] && envs+=(-E "$v=${!v}")
done
set +e
nsenter -t "$leader" -a systemd-run --quiet --wait --pipe --collect -E PYTHONDONTWRITEBYTECODE=1 "${envs[@]}" \
    -- /usr/bin/python3 "$script" "$@"
status=$?
set -e
exit $status
