# Shell functions shared by the interop harnesses (tests/interop/run.sh, tests/interop/rekey.sh,
# tests/lib/examples.sh); sourced, not run. Under the emulated CPU every process start costs a
# fifth of a second, so the waits use shell builtins only.
#
# harness_init KEEP: a work directory in $work, the background process groups in $background
# (killed at exit), the counters $passed and $failed; KEEP=1 keeps the work directory.
harness_init() {
    work=$(mktemp -d)
    passed=0 failed=0
    background=()
    harness_keep=$1
    trap harness_cleanup EXIT
}

harness_cleanup() {
    local pid
    for pid in "${background[@]}"; do kill -- "-$pid" 2>/dev/null; done
    if [ "$harness_keep" = 1 ]; then echo "work directory: $work"; else rm -rf "$work"; fi
}

bytes() { # 64K -> 65536
    local n=${1%[KkMm]}
    case "$1" in *[Kk]) echo $((n * 1024)) ;; *[Mm]) echo $((n * 1024 * 1024)) ;; *) echo "$1" ;; esac
}

# start NAME COMMAND: runs COMMAND in its own process group (so all of a pipeline can be killed),
# output in $work/NAME.log; sets $last_pid.
start() {
    local name=$1; shift
    setsid bash -c "$*" >"$work/$name.log" 2>&1 &
    last_pid=$!
    background+=("$last_pid")
}

stop() { kill -- "-$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# wait_listen tcp|udp PORT: until something listens there (10 s), from /proc/net/{tcp,udp}.
wait_listen() {
    local want=0A hex i table slot local_address remote state rest
    [ "$1" = udp ] && want=07
    printf -v hex ':%04X' "$2"
    for ((i = 0; i < 100; i++)); do
        for table in "/proc/net/$1" "/proc/net/${1}6"; do
            [ -r "$table" ] || continue
            while read -r slot local_address remote state rest; do
                [[ $local_address == *"$hex" && $state == "$want" ]] && return 0
            done < "$table"
        done
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECONDS: true if PID exited in time (its status is then in $exit_status).
wait_exit() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then wait "$1"; exit_status=$?; return 0; fi
        sleep 0.1
    done
    return 1
}
