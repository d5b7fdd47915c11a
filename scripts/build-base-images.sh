#!/usr/bin/env bash
# Local stand-ins for the official base images the packs build FROM.
#
# These machines have no route to Docker Hub, so `FROM python:3.12-slim` cannot pull.
# debian:bookworm-slim is a Debian bookworm root made with debootstrap from the Debian mirror
# in this machine's own apt sources; every other stand-in is built FROM it with the language's
# Debian packages (or, for Go, the tagged toolchain from the Go module proxy; for Java, this
# machine's JDK of 21 or later and the tagged Maven from Maven Central), set up like the
# official image where that matters to a pack (the `node` user with uid 1000, Apache with
# apache2-foreground in php), and tagged with the official name: the legacy builder then uses
# the local image and never pulls. Packs stay unmodified. Each stand-in carries the label
# sh.draft.stand-in=true and sh.draft.stand-in.version (what it really is, when that differs
# from its tag). The host's CA bundle is copied in, because TLS to PyPI/npm goes through this
# network's intercepting proxy.
#
# Usage: build-base-images.sh [--rebuild] [--all | IMAGE...]
# Default: the images of the packs CI deploys end to end (PROVEN below; the tests' lists
# PROVEN_ON_DOCKER and PROVEN_ON_CLUSTER, and the README's pack table, say the same).
# --all builds every stand-in it can, one after the other, never stopping at a failure, and
# reports at the end what it built, what failed (with the log to read) and what it cannot make.
# Images already present are kept, unless --rebuild (a stand-in whose recipe changed).
# Exit status: 1 when a stand-in failed to build, else 0 (unknown images are only reported).
# Env: XDG_CACHE_HOME (the debian root tarball and logs: $XDG_CACHE_HOME/draft/stand-ins),
#      DEBIAN_MIRROR (default: the first Debian URI of this machine's apt sources).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/draft/stand-ins
cert=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$cache"
work=$(mktemp -d -t draft-stand-ins.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The Debian mirror this machine already uses (deb822 .sources files, else sources.list).
apt_mirror() {
    local uri
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [[ -z $uri && -r /etc/apt/sources.list ]]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }' \
            /etc/apt/sources.list)
    fi
    echo "$uri"
}

images_of_pack() {  # the `images` list of a pack.toml
    python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb")).get("images", [])))' "$1"
}

PROVEN=(python node go rust java php erlang)
rebuild=false
if [[ ${1:-} == --rebuild ]]; then
    rebuild=true
    shift
fi
wanted=()
if [[ $# -eq 0 ]]; then
    mapfile -t wanted < <(for p in "${PROVEN[@]}"; do images_of_pack "$repo/packs/$p/pack.toml"; done | sort -u)
elif [[ $1 == --all ]]; then
    mapfile -t wanted < <(for p in "$repo"/packs/*/pack.toml; do images_of_pack "$p"; done | sort -u)
else
    wanted=("$@")
fi
# debian:bookworm-slim first: every other stand-in builds FROM it.
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | awk '$0 == "debian:bookworm-slim" { print; next } { rest[++n] = $0 } END { for (i = 1; i <= n; i++) print rest[i] }')

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    echo "stand-ins: installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

build_debian() {  # debian:bookworm-slim from debootstrap (the root tarball is cached)
    local image=$1 tarball=$cache/debian.tar mirror
    if [[ ! -s $tarball ]]; then
        mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
        if [[ -z $mirror ]]; then
            echo "stand-ins: no Debian mirror in this machine's apt sources; set DEBIAN_MIRROR" >&2
            return 1
        fi
        ensure_debootstrap
        local root=$work/debian-root
        echo "stand-ins: debootstrap of bookworm from the machine's Debian mirror (about a minute)"
        if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" \
            >"$cache/debian.log" 2>&1; then
            tail -n 20 "$cache/debian.log" >&2
            return 1
        fi
        cp "$cert" "$root$cert"
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$root"
    fi
    echo "stand-ins: importing $image"
    docker import \
        -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        -c "ENV LANG=C.UTF-8" \
        -c "ENV SSL_CERT_FILE=$cert" \
        -c "LABEL sh.draft.stand-in=true" \
        -c 'CMD ["bash"]' \
        "$tarball" "$image" >/dev/null
}

# `apt-get install` in a stand-in's Dockerfile (the debian stand-in's sources are the mirror's).
apt_install() {
    echo "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $* && rm -rf /var/lib/apt/lists/*"
}

# The JVM reads its own trust store, not the CA bundle: put the host's CAs (this network's
# intercepting proxy among them) into it, so Maven and Gradle reach their registries over TLS.
trust_host_cas_for_java() {
    echo "RUN mkdir -p /usr/local/share/ca-certificates/host && cd /usr/local/share/ca-certificates/host \\"
    echo "    && awk '/BEGIN CERTIFICATE/ { n++ } n { print > (\"host-\" n \".crt\") }' $cert \\"
    echo "    && update-ca-certificates >/dev/null"
}

# The newest JDK on this machine ($JAVA_HOME, then /usr/lib/jvm) of Java $1 or later: its home.
host_jdk() {
    local least=$1 home major best="" best_major=0
    for home in ${JAVA_HOME:-} /usr/lib/jvm/*; do
        [[ -x $home/bin/javac && -r $home/release ]] || continue
        major=$(jdk_major "$home")
        [[ -n $major ]] && ((major >= least && major > best_major)) || continue
        best=$(readlink -f "$home") best_major=$major
    done
    [[ -n $best ]] && echo "$best"
}

jdk_major() {  # 25, from the JDK's release file
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release"
}

jdk_name() {  # "Temurin-25.0.3+9", from the JDK's release file
    local name
    name=$(sed -n 's/^IMPLEMENTOR_VERSION="\(.*\)"/\1/p' "$1/release")
    [[ -n $name ]] || name="Java $(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$1/release")"
    echo "$name"
}

# The JVM in a stand-in trusts what the host's Java trusts (this network's intercepting proxy
# among them): the host's Java CA store, which Debian's ca-certificates-java makes from the
# host's CA bundle, replaces the copied JDK's own.
host_java_cas() {  # $1: the JDK folder in the context
    local store=/etc/ssl/certs/java/cacerts
    if [[ -s $store ]]; then
        cp --remove-destination "$store" "$1/lib/security/cacerts"
    else
        echo "stand-ins: no $store on this machine: the JVM in the stand-in trusts only its own CAs" >&2
    fi
}

copy_host_jdk() {  # the host's JDK into the build context, as folder $2
    cp -rL "$1" "$work/context/$2"
    chmod -R u+w "$work/context/$2"
    host_java_cas "$work/context/$2"
}

# A JRE from the host's JDK, as the official -jre images are: every module but the
# development tools (compiler, jar, jlink, jshell, debuggers and consoles).
link_host_jre() {
    local jdk=$1 modules
    modules=$("$jdk/bin/java" --list-modules | sed 's/@.*//' |
        grep -v -x -e jdk.compiler -e jdk.jartool -e jdk.javadoc -e jdk.jdeps -e jdk.jlink \
            -e jdk.jpackage -e jdk.jshell -e jdk.jconsole -e jdk.hotspot.agent -e jdk.editpad \
            -e jdk.jstatd -e jdk.internal.ed -e jdk.internal.le -e jdk.internal.opt -e jdk.internal.md \
            -e 'jdk.graal.compiler.*' -e jdk.internal.vm.ci | paste -sd,)
    "$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
        --output "$work/context/$2" >&2 || return 1
    host_java_cas "$work/context/$2"
}

# Maven $1's binary distribution, which Maven Central publishes (org.apache.maven:apache-maven),
# fetched by this machine's own mvn with its own settings, unpacked into the context as maven/.
# Prints the version; fails without a mvn or when Central does not answer.
maven_from_central() {
    local version=$1 tarball=$cache/apache-maven-$1-bin.tar.gz
    if [[ ! -s $tarball ]]; then
        command -v mvn >/dev/null 2>&1 || return 1
        mvn -B -q -Dmaven.repo.local="$cache/m2" \
            org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
            -Dartifact="org.apache.maven:apache-maven:$version:tar.gz:bin" \
            -DoutputDirectory="$cache" >"$cache/maven-$version.log" 2>&1 || return 1
    fi
    mkdir -p "$work/context/maven"
    tar -xzf "$tarball" -C "$work/context/maven" --strip-components=1 || return 1
    echo "$version"
}

# Maven inside a build uses this machine's Maven configuration (its mirrors among it): the
# host's global settings.xml, copied into the stand-in at $1. Users' ~/.m2/settings.xml is
# left out: it is where credentials live.
host_maven_settings() {
    local settings
    for settings in ${MAVEN_HOME:+$MAVEN_HOME/conf/settings.xml} /etc/maven/settings.xml; do
        if [[ -r $settings ]]; then
            cp "$settings" "$work/context/maven-settings.xml"
            echo "COPY maven-settings.xml $1"
            return 0
        fi
    done
}

# The Dockerfile (after `FROM debian:bookworm-slim`) standing in for an image, by name without
# the tag; the `version:` line on stdout's first line says what it really is. Nothing: unknown.
recipe_for() {
    local image=$1 base=${1%%:*} tag=${1#*:}
    base=${base##*/}
    case $base in
        python)
            echo "version: Debian's Python 3.11"
            apt_install python3 python3-pip python3-venv
            echo "RUN ln -s python3 /usr/bin/python && ln -s pip3 /usr/bin/pip"
            echo "ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_CERT=$cert REQUESTS_CA_BUNDLE=$cert"
            ;;
        node)
            echo "version: Debian's Node.js 18"
            apt_install nodejs npm
            # The official image's unprivileged user, as the node pack expects (USER 1000).
            echo "RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node"
            echo "ENV NODE_EXTRA_CA_CERTS=$cert"
            ;;
        golang)
            # The tagged Go from the Go module proxy (golang.org/toolchain), fetched by this
            # machine's own Go with its own GOPROXY.
            local minor=${tag%%-*} go_version goroot
            command -v go >/dev/null 2>&1 || return 1
            go_version=$(go list -m -versions -json golang.org/toolchain 2>/dev/null |
                python3 -c 'import json, re, sys; m = sys.argv[1]; vs = [v for v in json.load(sys.stdin).get("Versions", []) if re.fullmatch(r"v0\.0\.1-go" + re.escape(m) + r"(\.[0-9]+)?\.linux-amd64", v)]; key = lambda v: [int(x) for x in re.findall(r"[0-9]+", v.split("-go")[1])]; print(max(vs, key=key).split("-go")[1].removesuffix(".linux-amd64") if vs else "")' "$minor") || true
            [[ -n $go_version ]] || go_version=$minor.0
            goroot=$(GOTOOLCHAIN=go$go_version go env GOROOT 2>/dev/null) || return 1
            [[ -x $goroot/bin/go ]] || return 1
            cp -r "$goroot" "$work/context/go"
            echo "version: go$go_version (the Go module proxy's toolchain)"
            apt_install git gcc libc6-dev
            echo "COPY go /usr/local/go"
            echo "ENV PATH=/go/bin:/usr/local/go/bin:\$PATH GOPATH=/go GOTOOLCHAIN=local"
            ;;
        maven)  # maven:3.9.9-eclipse-temurin-21: that Maven on a JDK of at least 21
            local want=${tag%%-*} java=${tag##*-temurin-} jdk maven_version
            java=${java%%-*}
            if ! jdk=$(host_jdk "$java"); then
                echo "stand-ins: no JDK $java or newer on this machine (looked in \$JAVA_HOME and /usr/lib/jvm): $image falls back to Debian's OpenJDK 17, which cannot compile Java $java" >&2
                echo "version: Debian's Maven 3.8 on OpenJDK 17 (no JDK $java on this machine)"
                apt_install maven openjdk-17-jdk-headless
                trust_host_cas_for_java
                host_maven_settings /etc/maven/settings.xml
                return 0
            fi
            copy_host_jdk "$jdk" jdk
            if maven_version=$(maven_from_central "$want"); then
                echo "version: Maven $maven_version (from Maven Central) on the $(jdk_name "$jdk") JDK of this machine"
                echo "COPY maven /usr/share/maven"
                echo "RUN ln -s /usr/share/maven/bin/mvn /usr/bin/mvn"
                host_maven_settings /usr/share/maven/conf/settings.xml
            else
                echo "stand-ins: Maven $want could not be fetched from Maven Central with this machine's mvn: $image uses Debian's Maven 3.8" >&2
                echo "version: Debian's Maven 3.8.7 on the $(jdk_name "$jdk") JDK of this machine"
                apt_install maven
                host_maven_settings /etc/maven/settings.xml
            fi
            echo "COPY jdk /opt/java/openjdk"
            echo "ENV JAVA_HOME=/opt/java/openjdk MAVEN_HOME=/usr/share/maven PATH=/opt/java/openjdk/bin:\$PATH"
            # Maven 3.9's libraries (jansi, guava) make a JDK 24+ warn on every build, which Maven
            # on the tag's JDK 21 does not: allow what they do, as a JDK 21 would.
            if (($(jdk_major "$jdk") >= 24)); then
                echo "ENV MAVEN_OPTS=\"--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow\""
            fi
            ;;
        gradle)
            echo "version: Debian's Gradle 4.4 on OpenJDK 17 (too old for Kotlin build scripts)"
            apt_install gradle openjdk-17-jdk-headless
            trust_host_cas_for_java
            ;;
        eclipse-temurin)  # eclipse-temurin:21-jre: a Java runtime of at least 21
            local java=${tag%%-*} jdk
            if ! jdk=$(host_jdk "$java"); then
                echo "stand-ins: no JDK $java or newer on this machine (looked in \$JAVA_HOME and /usr/lib/jvm): $image falls back to Debian's OpenJDK 17 JRE, which cannot run Java $java classes" >&2
                echo "version: Debian's OpenJDK 17 JRE (no JDK $java on this machine)"
                apt_install openjdk-17-jre-headless
                trust_host_cas_for_java
                return 0
            fi
            if [[ $tag == *jre* ]]; then
                link_host_jre "$jdk" jdk || return 1
                echo "version: a JRE linked (jlink) from the $(jdk_name "$jdk") JDK of this machine"
            else
                copy_host_jdk "$jdk" jdk
                echo "version: the $(jdk_name "$jdk") JDK of this machine"
            fi
            echo "COPY jdk /opt/java/openjdk"
            echo "ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:\$PATH"
            ;;
        ruby)
            echo "version: Debian's Ruby 3.1"
            apt_install ruby ruby-dev bundler build-essential
            echo "ENV GEM_HOME=/usr/local/bundle BUNDLE_SILENCE_ROOT_WARNING=1 PATH=/usr/local/bundle/bin:\$PATH"
            ;;
        php)
            echo "version: Debian's PHP 8.2 with Apache 2.4 (mod_php)"
            apt_install apache2 libapache2-mod-php
            # Set up like the official image: Apache in the foreground, logs to the container's
            # output, its run/lock/log folders writable by www-data.
            echo "RUN ln -sfT /dev/stdout /var/log/apache2/access.log && ln -sfT /dev/stderr /var/log/apache2/error.log && ln -sfT /dev/stdout /var/log/apache2/other_vhosts_access.log \\"
            echo "    && mkdir -p /var/run/apache2 /var/lock/apache2 && chown -R www-data:www-data /var/run/apache2 /var/lock/apache2 /var/log/apache2 \\"
            echo "    && printf '%s\\n' '#!/bin/sh' 'set -e' '. /etc/apache2/envvars' 'exec apache2 -DFOREGROUND \"\$@\"' > /usr/local/bin/apache2-foreground \\"
            echo "    && chmod +x /usr/local/bin/apache2-foreground"
            echo "WORKDIR /var/www/html"
            echo "STOPSIGNAL SIGWINCH"
            echo 'CMD ["apache2-foreground"]'
            ;;
        composer)
            echo "version: Debian's Composer 2.5 on PHP 8.2"
            apt_install composer php-cli unzip
            echo "WORKDIR /app"
            ;;
        erlang)
            echo "version: Debian's Erlang/OTP 25 with rebar3"
            apt_install erlang-nox erlang-dev rebar3
            ;;
        rust)
            echo "version: Debian's rustc 1.63"
            apt_install rustc cargo build-essential
            ;;
        *) return 1 ;;
    esac
}

build_from_recipe() {
    local image=$1 recipe version log
    rm -rf "$work/context" && mkdir -p "$work/context"
    recipe=$(recipe_for "$image") || return 2
    version=$(head -n1 <<<"$recipe")
    version=${version#version: }
    log=$cache/$(tr '/:' '__' <<<"$image").log
    {
        echo "FROM debian:bookworm-slim"
        tail -n +2 <<<"$recipe"
        echo "LABEL sh.draft.stand-in=true sh.draft.stand-in.version=\"$version\""
    } >"$work/context/Dockerfile"
    echo "stand-ins: building $image from debian:bookworm-slim: $version"
    if ! DOCKER_BUILDKIT=0 docker build --force-rm -t "$image" "$work/context" >"$log" 2>&1; then
        echo "stand-ins: $image failed; the last lines of $log:" >&2
        tail -n 15 "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2
        return 1
    fi
}

stand_in_version() {  # " — what a present image really is", when its label says
    local version
    version=$(docker image inspect -f '{{index .Config.Labels "sh.draft.stand-in.version"}}' "$1" 2>/dev/null) || true
    [[ -z $version || $version == "<no value>" ]] || echo " — $version"
}

built=() present=() failed=() unknown=()
for image in "${wanted[@]}"; do
    if ! $rebuild && docker image inspect "$image" >/dev/null 2>&1; then
        present+=("$image$(stand_in_version "$image")")
        continue
    fi
    if [[ $image == debian:bookworm-slim ]]; then
        if build_debian "$image"; then built+=("$image"); else failed+=("$image"); fi
        continue
    fi
    if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
        failed+=("$image (needs debian:bookworm-slim first)")
        continue
    fi
    status=0
    build_from_recipe "$image" || status=$?
    case $status in
        0) built+=("$image") ;;
        2) unknown+=("$image") ;;
        *) failed+=("$image") ;;
    esac
done

report() {  # a heading and the items, when there are any
    local heading=$1
    shift
    [[ $# -gt 0 ]] || return 0
    echo "stand-ins: $heading"
    printf '  %s\n' "$@"
}
report "built:" "${built[@]}"
report "already present:" "${present[@]}"
report "no Debian stand-in is known (the pack cannot build on this machine):" "${unknown[@]}"
report "FAILED (see the logs in $cache):" "${failed[@]}" >&2
[[ ${#failed[@]} -eq 0 ]]
