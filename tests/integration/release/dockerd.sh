#!/usr/bin/env bash
# A private dockerd for the image tests (integration/release_images, e2e/release_images):
# its own data root, exec root, pid file and unix socket under DIR, never the machine's.
#
#   dockerd.sh start DIR WATCH_PID   start it, wait until it answers; a reaper stops it if
#                                    WATCH_PID (the test) dies first. Exit 77 with the reason
#                                    on stderr when dockerd cannot run on this machine.
#   dockerd.sh stop DIR              remove its containers, stop it, unmount and delete DIR's state
#
# Clients use DOCKER_HOST=unix://DIR/docker.sock. No bridge and no iptables: the containers
# use the host's network (--network host) or none, so nothing on the machine is changed.
set -euo pipefail
cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start DIR WATCH_PID | stop DIR" >&2; exit 2; }
export DOCKER_HOST=unix://$dir/docker.sock
case $cmd in
  start)
    watch_pid=${3:?WATCH_PID}
    command -v dockerd >/dev/null || { echo "dockerd.sh: dockerd is not installed (scripts/deps.sh installs docker.io)" >&2; exit 1; }
    mkdir -p "$dir/data" "$dir/exec"
    setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
      -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
      --log-level=warn >"$dir/dockerd.log" 2>&1 </dev/null &
    echo $! >"$dir/dockerd.launcher"
    # The reaper: a killed test leaves no daemon behind.
    # shellcheck disable=SC2016  # the reaper's own script, expanded by the bash it starts
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -e "$2/dockerd.launcher" ]]; do sleep 2; done
                    [[ -e "$2/dockerd.launcher" ]] && exec "$3" stop "$2"' reaper "$watch_pid" "$dir" "$0" \
      >/dev/null 2>&1 </dev/null &
    for _ in $(seq 1 120); do  # dockerd is up in 1-3 s here; 60 s allows a loaded machine
      docker version >/dev/null 2>&1 && exit 0
      if ! kill -0 "$(cat "$dir/dockerd.launcher")" 2>/dev/null; then
        echo "dockerd.sh: dockerd cannot run here: $(tail -3 "$dir/dockerd.log" | tr '\n' ' ')" >&2
        rm -f "$dir/dockerd.launcher"
        exit 77
      fi
      sleep 0.5
    done
    echo "dockerd.sh: dockerd did not answer within 60 s: $(tail -3 "$dir/dockerd.log" | tr '\n' ' ')" >&2
    "$0" stop "$dir"
    exit 1 ;;
  stop)
    [[ -e $dir/dockerd.launcher ]] || exit 0
    pid=$(cat "$dir/dockerd.launcher")
    rm -f "$dir/dockerd.launcher"
    mapfile -t ids < <(timeout 20 docker ps -aq 2>/dev/null || true)
    ((${#ids[@]} == 0)) || timeout 30 docker rm -f "${ids[@]}" >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    # Whatever a killed daemon left mounted under its roots, then the state itself.
    { grep -o " $dir/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$dir/data" "$dir/exec" ;;
  *) echo "usage: $0 start DIR WATCH_PID | stop DIR" >&2; exit 2 ;;
esac
