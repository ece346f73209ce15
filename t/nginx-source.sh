#!/bin/sh
#
# t/nginx-source.sh SUITE DIR: the nginx source of Debian's SUITE (e.g.
# trixie) in DIR/src, for building the module against another nginx.
#
# apt-get source --download-only fetches the package's orig tarball (the
# upstream release, checked by apt against the suite's signed Sources
# index) with a deb-src list, lists and cache of its own under DIR/apt:
# the system's apt sources are not touched, so no binary package of SUITE
# can ever be installed from it.  Prints the tree's nginx version.

set -eu

suite=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
apt=$dir/apt

mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/get"
: > "$apt/status"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
     "http://deb.debian.org/debian $suite main" > "$apt/sources.list"

set -- -q -o Dir::Etc::SourceList="$apt/sources.list" \
       -o Dir::Etc::SourceParts=/nonexistent \
       -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status" \
       -o Dir::Cache="$apt/cache" -o Debug::NoLocking=1

apt-get "$@" update > "$apt/update.log" 2>&1 \
    || { cat "$apt/update.log" >&2; exit 1; }

version=$(apt-cache "$@" showsrc nginx \
          | sed -n 's/^Version: \([0-9.]*\)-.*/\1/p' | sort -V | tail -1)
[ -n "$version" ] || { echo "nginx-source: no nginx in $suite" >&2; exit 1; }

rm -f "$apt/get/"*
(cd "$apt/get" && apt-get "$@" source --download-only "nginx" \
     > "$apt/source.log" 2>&1) || true

tarball=$apt/get/nginx_$version.orig.tar.gz
[ -s "$tarball" ] || { cat "$apt/source.log" >&2
                       echo "nginx-source: no $tarball" >&2; exit 1; }

rm -rf "$dir/src"
mkdir "$dir/src"
tar -xzf "$tarball" -C "$dir/src" --strip-components=1
echo "$version"
