#!/usr/bin/env bash
# Build the small Linux guest kernel used by chv's integration tests.
#
# Usage: build-kernel.sh
#
# The kernel is built from Debian's linux-source-6.1 package: `make tinyconfig`,
# then the fragment chv.config merged on top, then skip-int3-selftest.patch
# applied. Results are cached outside the source tree in
#   ${CHV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chv}/linux/<key>/
# holding vmlinux (ELF with a PVH entry note), bzImage and config. <key> is a
# hash of everything that decides the result, so a change to the fragment, the
# patch or the source package version builds into a new directory.
#
# The last line on stdout is that directory. When it already holds the outputs
# the script prints it at once, so it is cheap to call every time. Progress
# and diagnostics go to stderr.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment="$here/chv.config"
patchfile="$here/skip-int3-selftest.patch"

src_pkg=linux-source-6.1
src_tarball=/usr/src/linux-source-6.1.tar.xz
build_deps=(bc bison flex libelf-dev libssl-dev make gcc libc6-dev cpio xz-utils patch)

# Everything here besides the fragment, the patch and the source version that
# changes what gets built. Bump the revision when changing the build steps.
build_settings="rev=1 arch=x86_64 base=tinyconfig targets=vmlinux,bzImage"
build_settings+=" user=chv host=chv timestamp=1970-01-01"

log() { printf 'build-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

apt_install() {
    local p
    for p in "$@"; do
        # A package that apt-cache does not know yet needs fresh package lists.
        if [[ -z $(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"') ]]; then
            log "apt-get update"
            as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
            break
        fi
    done
    log "installing: $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2
}

ensure_packages() {
    local missing=() p
    [[ -f $src_tarball ]] || missing+=("$src_pkg")
    for p in "${build_deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
    [[ -f $src_tarball ]] || die "$src_tarball missing after installing $src_pkg"
}

[[ -f $fragment ]] || die "missing $fragment"
[[ -f $patchfile ]] || die "missing $patchfile"

# The package version names the source; fall back to the tarball's own hash
# when it was put there by other means.
src_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null || true)
if [[ -z $src_version ]]; then
    ensure_packages
    src_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null || true)
    [[ -n $src_version ]] || src_version="sha256:$(sha256sum "$src_tarball" | cut -d' ' -f1)"
fi

key=$({
    printf 'settings\n%s\nsource\n%s %s\nfragment\n' "$build_settings" "$src_pkg" "$src_version"
    cat "$fragment"
    printf 'patch\n'
    cat "$patchfile"
} | sha256sum | cut -c1-16)

cache_root=${CHV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chv}
outdir="$cache_root/linux/$key"
outputs=(vmlinux bzImage config)

have_outputs() {
    local f
    for f in "${outputs[@]}"; do
        [[ -s $outdir/$f ]] || return 1
    done
}

if have_outputs; then
    printf '%s\n' "$outdir"
    exit 0
fi

mkdir -p "$cache_root/linux"
exec 9>"$cache_root/linux/$key.lock"
if ! flock -n 9; then
    log "another build of $key is running; waiting for it"
    flock 9
fi
if have_outputs; then
    printf '%s\n' "$outdir"
    exit 0
fi

ensure_packages

work=$(mktemp -d "${TMPDIR:-/tmp}/chv-linux.XXXXXX")
stage="$outdir.tmp.$$"
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT

buildlog="$work/build.log"
fail() {
    log "error: $*"
    if [[ -s $buildlog ]]; then
        log "last lines of the build log:"
        tail -n 40 "$buildlog" >&2
    fi
    exit 1
}

start=$SECONDS
log "building $src_pkg $src_version into $outdir (this takes several minutes)"

tar -xJf "$src_tarball" -C "$work" || fail "cannot unpack $src_tarball"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' | head -n 1)
[[ -n $src ]] || fail "no linux-source-* directory in $src_tarball"
patch -d "$src" -p1 --quiet --forward <"$patchfile" >>"$buildlog" 2>&1 ||
    fail "cannot apply $(basename "$patchfile")"

obj="$work/out"
mkdir -p "$obj"
kmake=(make -C "$src" O="$obj" ARCH=x86_64 -s
    KBUILD_BUILD_USER=chv KBUILD_BUILD_HOST=chv
    KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC")

"${kmake[@]}" tinyconfig >>"$buildlog" 2>&1 || fail "make tinyconfig failed"
(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment") \
    >>"$buildlog" 2>&1 || fail "merging $(basename "$fragment") failed"
"${kmake[@]}" olddefconfig >>"$buildlog" 2>&1 || fail "make olddefconfig failed"

# Kconfig drops a requested value silently when its dependencies are not met,
# so compare the final configuration with every line of the fragment.
bad=()
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        opt=${BASH_REMATCH[1]}
        grep -qxF -- "$line" "$obj/.config" || {
            got=$(grep -E "^$opt=|^# $opt is not set" "$obj/.config" || true)
            bad+=("$opt: wanted ${BASH_REMATCH[2]}, got ${got:-nothing (dependencies unmet)}")
        }
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        opt=${BASH_REMATCH[1]}
        got=$(grep -E "^$opt=" "$obj/.config" || true)
        [[ -z $got ]] || bad+=("$opt: wanted it off, got $got")
    fi
done <"$fragment"
if ((${#bad[@]})); then
    for b in "${bad[@]}"; do
        log "config option did not stick: $b"
    done
    die "${#bad[@]} option(s) of $(basename "$fragment") missing from the final config"
fi

"${kmake[@]}" -j"$(nproc)" vmlinux bzImage >>"$buildlog" 2>&1 || fail "kernel build failed"

# Publish atomically: fill a sibling directory, then rename it into place.
rm -rf "$stage"
mkdir -p "$stage"
cp "$obj/vmlinux" "$stage/vmlinux"
cp "$obj/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$obj/.config" "$stage/config"
rm -rf "$outdir"
mv "$stage" "$outdir"

log "built in $((SECONDS - start)) s"
printf '%s\n' "$outdir"
