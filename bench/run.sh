#!/bin/sh
# All of bench/, one after the other (make bench).
set -eu
cd "$(dirname "$0")"
echo "== start-up: adcp_tenants against a hostnames map (boot.sh)"
sh ./boot.sh
echo
echo "== hit path: instructions per request under callgrind (hitpath.sh)"
sh ./hitpath.sh
echo
echo "== churn: worker RSS through a 64-entry cache (churn.sh)"
sh ./churn.sh
echo
echo "== a failing factory behind 4 workers (failing.pl)"
perl ./failing.pl 2>&1 | grep '^#'

echo
echo "== long-running tasks: accept against the synchronous path (tasks.pl)"
perl ./tasks.pl 2>&1 | grep '^#'
