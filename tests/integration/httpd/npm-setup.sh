#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# npm-setup.sh: installs the OpenAPI validator the httpd tests use (package.json, package-lock.json
# beside this script) with `npm ci`, once, into a cache outside the source tree keyed by the lock
# file, and prints the node_modules directory. Later calls only print it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${CHV_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp/chv-cache-$(id -u)}/.cache}/chv}
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
dir=$cache_root/httpd-validator/$key

if [ ! -f "$dir/.done" ]; then
    if ! command -v npm >/dev/null; then
        echo "npm-setup.sh: npm is not installed (tools/install-deps test)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock 9
    if [ ! -f "$dir/.done" ]; then
        cp "$here/package.json" "$here/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
        touch "$dir/.done"
    fi
fi
echo "$dir/node_modules"
