#!/bin/sh
# Draft's restart wrapper: the entrypoint of a container whose files Draft syncs on save.
#
# It runs the image's own command ("$@") and, when draftd has copied changed files into
# the container and sends SIGHUP, ends every process of the app's user and runs the command
# again, in the same container: no new container, network or port. SIGTERM and SIGINT go to
# the app, and the container ends with it; an app that exits on its own ends the container
# with its exit code, exactly as without the wrapper.
restart=0
child=0
trap 'restart=1; kill -9 -1 2>/dev/null' HUP
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
while :; do
    "$@" &
    child=$!
    while :; do
        wait "$child"
        status=$?
        # `wait` also returns when a trapped signal arrives; go on until the app has ended.
        kill -0 "$child" 2>/dev/null || break
    done
    if [ "$restart" = 1 ]; then
        restart=0
        continue
    fi
    exit "$status"
done
