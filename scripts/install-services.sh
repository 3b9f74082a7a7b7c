#!/usr/bin/env bash
# Installs the real services the tests start on loopback (see tests/services.py), idempotently:
#   docker-registry  CNCF Distribution (the OCI registry binary; run directly, never as a system service)
#   apache2-utils    htpasswd -B, the bcrypt htpasswd file the registry authenticates against
#   podman, runc     Podman's Docker-compatible API (`podman system service`); runc because crun fails here
#   busybox-static   /bin/busybox, copied into FROM scratch images for RUN steps (no base image can be pulled)
#   skopeo           the tests' independent reader of what was pushed (image indexes, manifests, referrers)
# Checks each package with dpkg -s first; runs apt-get update once, and only when something is missing.
set -euo pipefail

PACKAGES=(docker-registry apache2-utils podman runc busybox-static skopeo)

die() { echo "install-services: $*" >&2; exit 1; }

command -v dpkg >/dev/null 2>&1 || die "dpkg not found: these services are installed from Debian packages (${PACKAGES[*]})"

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-services: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  $sudo apt-get update -qq || die "apt-get update failed"
  # --no-install-recommends: podman recommends buildah, fuse-overlayfs, slirp4netns, uidmap...; the tests run
  # podman as root with the vfs driver and no container networking, so none of them is needed.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# Verify what the tests actually execute, so a broken install fails here rather than in the middle of a test.
for bin in /usr/bin/docker-registry /usr/bin/htpasswd /usr/bin/podman /usr/sbin/runc /bin/busybox /usr/bin/skopeo; do
  [ -x "$bin" ] || die "$bin missing after installing ${PACKAGES[*]}"
done
file_out=$(od -An -c -N4 /bin/busybox | tr -d ' ')
[ "$file_out" = '177ELF' ] || die "/bin/busybox is not an ELF binary"
echo "install-services: ready (docker-registry, podman + runc, busybox-static, htpasswd, skopeo)" >&2
