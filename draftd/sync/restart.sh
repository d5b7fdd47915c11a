#!/bin/sh
# Draft's restart wrapper: the entrypoint of a container whose files Draft syncs on save.
#
# It runs the image's own command ("$@") and, when draftd has copied changed files into
# the container and sends SIGHUP, ends the app and runs the command again, in the same
# container: no new container, network or port. SIGTERM and SIGINT go to the app, and the
# container ends with it; an app that exits on its own ends the container with its exit
# code, exactly as without the wrapper.
#
# Python apps restart warm. The file below (draftd/sync/warm_start.py) is put first on
# PYTHONPATH as sitecustomize.py: a Python app puts itself in a process group of its own,
# and once it has started asks for a spare (SIGUSR1): the same command again, which imports
# the libraries the app imported and waits. A restart then ends the app's process group and
# tells the spare to go on ("go" on its pipe): it reads the app's new code with its
# libraries already imported. Any other app is restarted by ending every process of the
# app's user. DRAFT_WARM=0 in the container's environment turns the spare off.
restart=0
child=0
status=0
spare=0
want_spare=0
n=0
current=0
warm=
if [ "${DRAFT_WARM:-1}" != 0 ] && warm=$(mktemp -d 2>/dev/null) && cat > "$warm/sitecustomize.py" <<'DRAFT_WARM_EOF'
@WARM_START@
DRAFT_WARM_EOF
then
    export DRAFT_WARM_DIR="$warm" DRAFT_WARM_WRAPPER=$$
    export PYTHONPATH="$warm${PYTHONPATH:+:$PYTHONPATH}"
else
    warm=
fi
stop() {
    # The app's own process group when it said which (a Python app): the spare lives on.
    group=
    [ -z "$warm" ] || read -r group 2>/dev/null < "$warm/pid.$current"
    if [ -n "$group" ]; then
        kill -9 "-$group" "$child" 2>/dev/null
    else
        kill -9 -1 2>/dev/null
        spare=0
    fi
}
forget() {
    [ -z "$warm" ] || rm -f "$warm/pid.$1" "$warm/go.$1" "$warm/go.$1.token.taken"
}
trap 'restart=1; stop' HUP
trap 'want_spare=1' USR1
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
while :; do
    forget "$current" # the app that ended (none yet the first time)
    if [ "$restart" = 1 ] && [ "$spare" != 0 ] && kill -0 "$spare" 2>/dev/null; then
        child=$spare
        current=$n
        spare=0
        # Spares take turns on fds 3 and 4: the next one's pipe is opened before this one may
        # have read its "go", which a closed pipe would lose.
        if [ $((n % 2)) = 0 ]; then echo go >&3; else echo go >&4; fi
        want_spare=1 # now: the libraries to import are known, and the app needs little CPU
    else
        n=$((n + 1))
        current=$n
        DRAFT_WARM_ID=$n "$@" 3>&- 4>&- &
        child=$!
        # A restart before the spare was ready: the app is known to be Python, start one now.
        [ "$restart" = 0 ] || [ -z "$warm" ] || [ ! -s "$warm/modules" ] || want_spare=1
    fi
    restart=0
    while :; do
        # The app asked for a spare (or took over from one): start the next.
        if [ "$want_spare" = 1 ] && [ -n "$warm" ] && [ "$spare" = 0 ] && [ "$restart" = 0 ] &&
            mkfifo "$warm/go.$((n + 1))" 2>/dev/null; then
            n=$((n + 1))
            : > "$warm/go.$n.token"
            if [ $((n % 2)) = 0 ]; then exec 3<> "$warm/go.$n"; else exec 4<> "$warm/go.$n"; fi
            DRAFT_WARM_ID=$n DRAFT_WARM_GO="$warm/go.$n" "$@" 3>&- 4>&- &
            spare=$!
        fi
        want_spare=0
        wait "$child"
        status=$?
        # `wait` also returns when a trapped signal arrives: go on until the app has ended.
        kill -0 "$child" 2>/dev/null || break
    done
    if [ "$restart" = 1 ]; then
        continue
    fi
    [ "$spare" = 0 ] || kill -9 "$spare" 2>/dev/null
    exit "$status"
done
