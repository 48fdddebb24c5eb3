#!/bin/sh
# Builds the three base images docker/compose.yaml needs from a Debian mirror alone, for hosts
# that reach a Debian mirror but not Docker Hub:
#   medassist-local/python:3.11-bookworm   (instead of python:3.11-slim-bookworm)
#   medassist-local/postgres:15            (instead of postgres:16)
#   medassist-local/redis:7                (instead of redis:7)
# then prints the variables that make compose use them. Needs root, debootstrap and a running
# Docker engine. Run from the repository root:
#   sudo sh docker/debian/build-images.sh [MIRROR]
set -eu
mirror="${1:-http://deb.debian.org/debian}"
rootfs="${MEDASSIST_ROOTFS:-/var/tmp/medassist-rootfs/bookworm}"
if ! docker image inspect medassist-local/debian:bookworm >/dev/null 2>&1; then
  if [ ! -x "$rootfs/bin/sh" ]; then
    echo "debootstrap: Debian bookworm (minbase) from $mirror into $rootfs"
    mkdir -p "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
  fi
  echo "docker import: medassist-local/debian:bookworm"
  tar -C "$rootfs" -c . | docker import - medassist-local/debian:bookworm
fi
for image in python:3.11-bookworm postgres:15 redis:7; do
  name="${image%%:*}"
  echo "docker build: medassist-local/$image"
  docker build -q -f "docker/debian/$name.Dockerfile" -t "medassist-local/$image" .
done
cat <<'VARS'
Built. Use them with:
  export MEDASSIST_BASE_IMAGE=medassist-local/python:3.11-bookworm
  export MEDASSIST_POSTGRES_IMAGE=medassist-local/postgres:15
  export MEDASSIST_REDIS_IMAGE=medassist-local/redis:7
VARS
