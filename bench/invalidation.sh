#!/bin/sh
# Invalidation through Redis: PUBLISH -> every worker of two hosts, next to
# the raw pub/sub round trip; factory calls caused by Redis restarts.
set -eu
cd "$(dirname "$0")"
perl ./invalidation.pl 2>&1 | grep '^#'
