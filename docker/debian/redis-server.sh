#!/bin/sh
# Debian's redis-server as the official image runs it: all interfaces, protected mode off,
# data in /data, as the redis user; the arguments compose gives are passed on.
set -eu
exec setpriv --reuid=redis --regid=redis --init-groups \
  /usr/bin/redis-server --bind "0.0.0.0 -::*" --protected-mode no --dir /data "$@"
