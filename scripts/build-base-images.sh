#!/usr/bin/env bash
# Local stand-ins for the official base images the packs build FROM.
#
# These machines have no route to Docker Hub, so `FROM python:3.12-slim` cannot pull.
# A stand-in is a Debian bookworm root made with debootstrap, holding the language's
# Debian packages, imported under the official name; the legacy builder then uses the
# local image and never pulls. Packs stay unmodified. Each stand-in carries the label
# sh.draft.stand-in=true. The host's CA bundle is copied in, because TLS to PyPI/npm
# goes through this network's intercepting proxy.
#
# Usage: build-base-images.sh [--all | IMAGE...]   (default: the python pack's images)
# Env: XDG_CACHE_HOME (rootfs tarballs are cached under $XDG_CACHE_HOME/draft/stand-ins)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/draft/stand-ins
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

# The Debian packages standing in for each official image (by name without the tag).
packages_for() {
    case $1 in
        python) echo "python3,python3-pip,python3-venv" ;;
        node) echo "nodejs,npm" ;;
        golang) echo "golang,git" ;;
        maven) echo "maven,default-jdk-headless" ;;
        gradle) echo "gradle,default-jdk-headless" ;;
        eclipse-temurin) echo "default-jre-headless" ;;
        ruby) echo "ruby,ruby-dev,bundler,build-essential" ;;
        php) echo "php-cli" ;;
        rust) echo "rustc,cargo,build-essential" ;;
        debian) echo "" ;;
        *) return 1 ;;
    esac
}

images_of_pack() {  # the `images` list of a pack.toml
    python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb")).get("images", [])))' "$1"
}

wanted=()
if [[ $# -eq 0 ]]; then
    mapfile -t wanted < <(images_of_pack "$repo/packs/python/pack.toml")
elif [[ $1 == --all ]]; then
    mapfile -t wanted < <(for p in "$repo"/packs/*/pack.toml; do images_of_pack "$p"; done | sort -u)
else
    wanted=("$@")
fi

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    echo "stand-ins: installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

build() {
    local image=$1 base=${1%%:*} include
    base=${base##*/}
    if docker image inspect "$image" >/dev/null 2>&1; then
        echo "stand-ins: $image is present"
        return
    fi
    if ! include=$(packages_for "$base"); then
        echo "stand-ins: no Debian stand-in is known for $image; skipped" >&2
        return
    fi
    local tarball=$cache/$base.tar
    if [[ ! -s $tarball ]]; then
        ensure_debootstrap
        local root
        root=$(mktemp -d -t "draft-rootfs-$base.XXXXXX")
        echo "stand-ins: debootstrap of bookworm with ${include:-no extra packages} (about a minute)"
        debootstrap --variant=minbase --include="ca-certificates${include:+,$include}" \
            bookworm "$root" "$mirror" >"$cache/$base.debootstrap.log" 2>&1 ||
            { tail -n 20 "$cache/$base.debootstrap.log" >&2; exit 1; }
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
        [[ -x $root/usr/bin/python3 && ! -e $root/usr/bin/python ]] && ln -s python3 "$root/usr/bin/python"
        [[ -x $root/usr/bin/pip3 && ! -e $root/usr/bin/pip ]] && ln -s pip3 "$root/usr/bin/pip"
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$root"
    fi
    local cert=/etc/ssl/certs/ca-certificates.crt
    echo "stand-ins: importing $image (a local stand-in: there is no route to Docker Hub here)"
    docker import \
        -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        -c "ENV LANG=C.UTF-8" \
        -c "ENV PIP_BREAK_SYSTEM_PACKAGES=1" \
        -c "ENV PIP_CERT=$cert" -c "ENV REQUESTS_CA_BUNDLE=$cert" \
        -c "ENV SSL_CERT_FILE=$cert" -c "ENV NODE_EXTRA_CA_CERTS=$cert" \
        -c "LABEL sh.draft.stand-in=true" \
        -c 'CMD ["bash"]' \
        "$tarball" "$image" >/dev/null
}

for image in "${wanted[@]}"; do
    build "$image"
done
