#!/usr/bin/env bash
# Build the pytams Apptainer images offline (no registry: the base is debootstrapped here).
#
# Usage: containers/build.sh [TARGET...]      TARGET: base, core, full (default: core full)
#   base  Debian 12 minbase + python3 + python3-venv, debootstrapped, as BUILD/base.sif (once;
#         delete it to rebuild)
#   core  BUILD/pytams-core.sif from containers/pytams-core.def
#   full  BUILD/pytams-full.sif from containers/pytams-full.def
# Every image target first builds this repo's wheels (uv build --all-packages) and downloads the
# third-party wheels they need for the image's Python and platform into BUILD/wheelhouse, on the
# host, so the images' %post sections need no network.
#
# Environment:
#   PYTAMS_CONTAINER_BUILD  the build directory (default: containers/build, gitignored)
#   APPTAINER               the apptainer binary (default: on PATH, else installed with
#                           containers/install-apptainer.sh)
#   PYTHON                  a Python with pip, for `pip download` (default: python3)
#   DEBIAN_MIRROR           the mirror for debootstrap (default: the one apt uses)
#   PYTAMS_IMAGE_COMPRESSION  squashfs compression of the images: zstd (default; small and
#                           fast), lz4 (fastest build, larger), gzip (most portable, slow build)
#   APPTAINER_BUILD_ARGS    extra arguments for `apptainer build` (e.g. --notest)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD="${PYTAMS_CONTAINER_BUILD:-$HERE/build}"
PYTHON="${PYTHON:-python3}"
IMAGE_PYTHON=3.11          # Debian 12's python3
IMAGE_GLIBC_MINOR=36       # Debian 12's glibc 2.36

log() { printf '[build.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
size() { du -h "$1" | cut -f1; }

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(core full)
for t in "${targets[@]}"; do
    case "$t" in base|core|full) ;; *) die "unknown target '$t' (use base, core or full)";; esac
done

mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"

# --- apptainer -------------------------------------------------------------------------------
if [ -z "${APPTAINER:-}" ]; then
    if command -v apptainer >/dev/null 2>&1; then
        APPTAINER="$(command -v apptainer)"
    elif [ -x /opt/pytams-apptainer/usr/bin/apptainer ]; then
        APPTAINER=/opt/pytams-apptainer/usr/bin/apptainer
    else
        log "apptainer is not on PATH: installing it with containers/install-apptainer.sh"
        APPTAINER="$(bash "$HERE/install-apptainer.sh" | tail -n1)/apptainer"
    fi
fi
"$APPTAINER" --version >/dev/null || die "$APPTAINER does not run; reinstall: bash $HERE/install-apptainer.sh"

# --- base.sif --------------------------------------------------------------------------------
build_base() {
    if [ -s "$BUILD/base.sif" ]; then
        log "base.sif exists ($(size "$BUILD/base.sif")); delete it to rebuild"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (or run containers/install-apptainer.sh)"
    local mirror="${DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
        mirror="$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | awk '{print $2}' | grep -v security | head -n1 || true)"
    fi
    mirror="${mirror:-http://deb.debian.org/debian}"
    local root="$BUILD/rootfs" t0=$SECONDS
    rm -rf "$root"
    log "debootstrap bookworm (minbase, python3, python3-venv) from $mirror"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$mirror" \
        > "$BUILD/debootstrap.log" 2>&1 || die "debootstrap failed; see $BUILD/debootstrap.log"
    # apptainer cannot pack character devices; apt's downloads are not needed in the image
    find "$root/dev" -type c -delete
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    local t1=$SECONDS
    "$APPTAINER" --silent build --force --mksquashfs-args="-comp lz4" "$BUILD/base.sif.tmp" "$root"
    mv "$BUILD/base.sif.tmp" "$BUILD/base.sif"
    rm -rf "$root"
    log "base.sif: $(size "$BUILD/base.sif"), debootstrap $((t1 - t0)) s, apptainer build $((SECONDS - t1)) s"
    echo "base.sif $((SECONDS - t0)) s (debootstrap $((t1 - t0)) s)" >> "$BUILD/build-times.txt"
}

# --- wheels: ours, and the third-party ones for the image's Python and platform --------------
build_wheels() {  # $1: all (every packages/*) or core (pytams-core alone)
    local t0=$SECONDS selection=(--all-packages)
    [ "$1" = all ] || selection=(--package pytams-core)
    rm -rf "$BUILD/dist" "$BUILD/wheelhouse"
    mkdir -p "$BUILD/dist" "$BUILD/wheelhouse"
    (cd "$REPO" && uv build "${selection[@]}" --wheel --quiet -o "$BUILD/dist") \
        || die "uv build ${selection[*]} failed (run it in $REPO to see why)"
    local platforms=() m
    for m in $(seq "$IMAGE_GLIBC_MINOR" -1 17); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
    platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        --python-version "$IMAGE_PYTHON" --implementation cp --abi "cp${IMAGE_PYTHON/./}" --abi abi3 --abi none \
        "${platforms[@]}" --platform any \
        --find-links "$BUILD/dist" -d "$BUILD/wheelhouse" "$BUILD"/dist/*.whl \
        || die "pip download of the third-party wheels failed (needs PyPI, and '$PYTHON -m pip')"
    echo "wheelhouse $((SECONDS - t0)) s (uv build, pip download)" >> "$BUILD/build-times.txt"
    log "wheelhouse: $(ls "$BUILD/wheelhouse" | wc -l) wheels, $(size "$BUILD/wheelhouse") ($((SECONDS - t0)) s): $(cd "$BUILD/dist" && ls | tr '\n' ' ')"
    rm -rf "$BUILD/examples"
    cp -r "$REPO/examples" "$BUILD/examples"
}

build_image() {
    local name="pytams-$1" t0=$SECONDS
    [ -s "$BUILD/base.sif" ] || build_base
    log "apptainer build --fakeroot $name.sif"
    # shellcheck disable=SC2086
    (cd "$BUILD" && "$APPTAINER" build --force --fakeroot ${APPTAINER_BUILD_ARGS:-} \
        --mksquashfs-args="-comp ${PYTAMS_IMAGE_COMPRESSION:-zstd}" "$name.sif.tmp" "$HERE/$name.def" > "$BUILD/$name.build.log" 2>&1) \
        || { tail -n 40 "$BUILD/$name.build.log" >&2; die "building $name.sif failed; full log: $BUILD/$name.build.log"; }
    mv "$BUILD/$name.sif.tmp" "$BUILD/$name.sif"
    log "$name.sif: $(size "$BUILD/$name.sif"), built (with its %test) in $((SECONDS - t0)) s"
    echo "$name.sif $((SECONDS - t0)) s (apptainer build with %test)" >> "$BUILD/build-times.txt"
}

wheels=core
for t in "${targets[@]}"; do [ "$t" != full ] || wheels=all; done
wheels_done=0
for t in "${targets[@]}"; do
    case "$t" in
        base) build_base ;;
        core|full)
            [ "$wheels_done" = 1 ] || { build_wheels "$wheels"; wheels_done=1; }
            build_image "$t" ;;
    esac
done
