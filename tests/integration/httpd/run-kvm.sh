#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# run-kvm.sh SCRIPT: runs SCRIPT (bus, chvd, chv-httpd and VMs) where /dev/kvm works, through
# tests/kvmhost/run ($KVMHOST_RUN). The OpenAPI validator is installed here first: the emulated KVM
# host sees this machine's files read-only and has no network.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/npm-setup.sh" >/dev/null
exec "$KVMHOST_RUN" --rw "$CHV_SOURCE_ROOT" -- python3 "$@"
