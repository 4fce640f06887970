#!/usr/bin/env bash
# Install Apptainer on Debian 12 (bookworm), where it is not packaged.
#
# Debian unstable's apptainer package needs a newer glibc than bookworm's, so this script takes
# unstable's apptainer AND unstable's libc6 (downloaded with apt through a private sources list
# naming the `sid` suite of the mirror apt already uses, with private list and cache directories:
# the system's apt state is not touched), unpacks both into a private prefix and points the two
# Apptainer binaries at that glibc with patchelf. The prefix is made relocatable (etc copied to
# usr/etc), `--fakeroot` builds get subuid/subgid entries for root, and root gets the bounding
# capability set minus cap_sys_resource.
#
# Usage: containers/install-apptainer.sh [PREFIX]     (default /opt/pytams-apptainer)
# Prints the directory holding the `apptainer` binary on its last line. Idempotent: a second run
# finds the working installation and only re-checks the configuration.
# Environment: APPTAINER_LINK=1 also links PREFIX/usr/bin/apptainer into /usr/local/bin.
set -euo pipefail

PREFIX="${1:-${APPTAINER_PREFIX:-/opt/pytams-apptainer}}"
BIN="$PREFIX/usr/bin/apptainer"
ETC="$PREFIX/usr/etc/apptainer"

log() { printf 'install-apptainer: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, /etc/subuid); the fix: sudo $0"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (found $(uname -m))"

# --- prerequisites from the system's own suite -------------------------------------------
missing=()
for pair in patchelf:patchelf mksquashfs:squashfs-tools newuidmap:uidmap debootstrap:debootstrap; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing prerequisites: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- apptainer + libc6 from unstable into PREFIX ---------------------------------------------
if [ ! -x "$BIN" ] || ! "$BIN" --version >/dev/null 2>&1; then
    # The mirror apt already uses: the first URI of the system's sources.
    mirror="$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)"
    if [ -z "$mirror" ]; then
        mirror="$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+' /etc/apt/sources.list 2>/dev/null \
            | awk '{print $NF}' | grep -v security | head -n1 || true)"
    fi
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"
    log "downloading apptainer and libc6 from $mirror sid"

    work="$(mktemp -d /tmp/install-apptainer.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs"
    echo "deb $mirror sid main" > "$work/sources.list"
    apt_opts=(
        -o "Dir::Etc::SourceList=$work/sources.list"
        -o "Dir::Etc::SourceParts=$work/parts"
        -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
        -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root"
    )
    apt-get "${apt_opts[@]}" update -qq
    (cd "$work/debs" && apt-get "${apt_opts[@]}" download apptainer libc6 >/dev/null)

    rm -rf "$PREFIX.new"
    mkdir -p "$PREFIX.new"
    for deb in "$work"/debs/*.deb; do
        log "unpacking $(basename "$deb")"
        dpkg-deb -x "$deb" "$PREFIX.new"
    done

    # unstable's glibc (merged /usr): the directory that holds its dynamic loader
    ldso="$(find "$PREFIX.new" -name 'ld-linux-x86-64.so.2' \( -type f -o -type l \) \
        -path '*x86_64-linux-gnu*' | head -n1)"
    [ -n "$ldso" ] || die "the unpacked libc6 has no ld-linux-x86-64.so.2"
    glibc_rel="$(dirname "${ldso#"$PREFIX.new"/}")"
    glibc="$PREFIX/$glibc_rel"
    for exe in usr/bin/apptainer usr/lib/x86_64-linux-gnu/apptainer/bin/starter; do
        [ -f "$PREFIX.new/$exe" ] || die "the apptainer package has no $exe"
        patchelf --set-interpreter "$glibc/ld-linux-x86-64.so.2" --force-rpath \
            --set-rpath "$glibc:/lib/x86_64-linux-gnu" "$PREFIX.new/$exe"
    done
    rm -rf "$PREFIX"
    mv "$PREFIX.new" "$PREFIX"
fi

# --- relocation and configuration (re-checked on every run) ----------------------------------
if [ ! -d "$ETC" ]; then
    cp -a "$PREFIX/etc" "$PREFIX/usr/etc"
fi
[ -e "$PREFIX/usr/lib/etc" ] || ln -s ../etc "$PREFIX/usr/lib/etc"
mkdir -p "$PREFIX/usr/var/lib/apptainer/mnt/session"
# the starter (usr/lib/x86_64-linux-gnu/apptainer/bin) resolves its prefix as usr/lib
[ -e "$PREFIX/usr/lib/var" ] || ln -s ../var "$PREFIX/usr/lib/var"
conf="$ETC/apptainer.conf"
[ -f "$conf" ] || die "no $conf after unpacking"
if grep -qE '^root default capabilities' "$conf"; then
    sed -i -E 's/^root default capabilities.*/root default capabilities = file/' "$conf"
else
    echo 'root default capabilities = file' >> "$conf"
fi

for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -qE '^root:' "$f" || echo 'root:100000:65536' >> "$f"
done

"$BIN" --version >/dev/null 2>&1 || die "$BIN does not run after patching; see: $BIN --version"

# Root's capabilities: the bounding set of this machine minus cap_sys_resource.
capnames=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
    linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
    sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
    sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
    mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
    checkpoint_restore)
bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
caps=()
for i in "${!capnames[@]}"; do
    name="${capnames[$i]}"
    [ "$name" = sys_resource ] && continue
    if (( (bnd >> i) & 1 )); then caps+=("CAP_${name^^}"); fi
done
if [ "${#caps[@]}" -gt 0 ]; then
    "$BIN" capability add --user root "$(IFS=,; echo "${caps[*]}")" >/dev/null 2>&1 \
        || die "apptainer capability add --user root failed; see: $BIN capability list"
fi

if [ "${APPTAINER_LINK:-0}" = 1 ]; then
    ln -sf "$BIN" /usr/local/bin/apptainer
fi
log "$("$BIN" --version) ready in $PREFIX/usr/bin"
echo "$PREFIX/usr/bin"
