#!/usr/bin/env bash
# Throwaway RabbitMQ broker for the integration tests (no systemd, no Docker needed).
#
#   eval "$(.ci/rabbitmq.sh start)"   # installs rabbitmq-server if missing, starts a private node,
#                                     # prints the exports the tests read
#   .ci/rabbitmq.sh ctl stop_app      # rabbitmqctl against that node (the tests simulate outages with it)
#   .ci/rabbitmq.sh stop              # stops the node and removes its files
#
# The node runs as its own process with every file (data, logs, Erlang cookie, config) in one temp
# directory, on a free port, so it never touches a system broker. start and stop are idempotent.
# State lives in $ORDERSES_RABBITMQ_STATE (default /tmp/orderses-rabbitmq.state).
set -euo pipefail

STATE_FILE="${ORDERSES_RABBITMQ_STATE:-/tmp/orderses-rabbitmq.state}"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
STARTUP_TIMEOUT="${ORDERSES_RABBITMQ_STARTUP_TIMEOUT:-120}"

log() { echo "rabbitmq.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# The packaged scripts under /usr/lib/rabbitmq/bin run the node as the calling user; the /usr/sbin
# wrappers would switch to the rabbitmq user and lose our environment.
rabbit_bin() {
    local name="$1"
    if [[ -x "/usr/lib/rabbitmq/bin/$name" ]]; then
        echo "/usr/lib/rabbitmq/bin/$name"
    elif command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
    else
        return 1
    fi
}

ensure_installed() {
    if rabbit_bin rabbitmq-server >/dev/null && rabbit_bin rabbitmqctl >/dev/null; then
        return 0
    fi
    log "rabbitmq-server is missing; installing it with apt-get"
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y rabbitmq-server >&2
    rabbit_bin rabbitmq-server >/dev/null || die "rabbitmq-server is still missing after apt-get install"
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port p with p and p+20000 (Erlang distribution) both free.
free_port() {
    local attempt port
    for attempt in $(seq 1 50); do
        port=$(( 20000 + (RANDOM % 25000) ))
        if port_is_free "$port" && port_is_free $((port + 20000)); then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# The node's environment, for rabbitmqctl and rabbitmq-server alike.
node_env() {
    NODE_ENV=(
        HOME="$DIR/home"
        RABBITMQ_NODENAME="$NODE"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$PORT"
        RABBITMQ_DIST_PORT="$((PORT + 20000))"
        RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$DIR/mnesia"
        RABBITMQ_LOG_BASE="$DIR/log"
        RABBITMQ_PID_FILE="$DIR/rabbitmq.pid"
    )
}

ctl() {
    node_env
    env "${NODE_ENV[@]}" "$(rabbit_bin rabbitmqctl)" -n "$NODE" "$@"
}

load_state() {
    [[ -f "$STATE_FILE" ]] || return 1
    # shellcheck disable=SC1090
    source "$STATE_FILE"
    [[ -n "${DIR:-}" && -n "${NODE:-}" && -n "${PORT:-}" ]]
}

print_exports() {
    echo "export ORDERSES_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:$PORT/"
    # The state file goes with it: a broker started with ORDERSES_RABBITMQ_STATE is driven without that variable set.
    echo "export ORDERSES_TEST_RABBITMQ_CTL='env ORDERSES_RABBITMQ_STATE=$STATE_FILE $SELF ctl'"
}

process_alive() {
    [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null
}

start() {
    if load_state; then
        if process_alive && ctl status >/dev/null 2>&1; then
            log "broker $NODE already running on port $PORT"
            print_exports
            return 0
        fi
        log "stale state for $NODE; cleaning up"
        stop
    fi

    ensure_installed

    DIR="$(mktemp -d /tmp/orderses-rabbitmq.XXXXXX)"
    NODE="ci-$(basename "$DIR" | cut -d. -f2 | tr '[:upper:]' '[:lower:]')@localhost"
    PORT="$(free_port)"
    mkdir -p "$DIR/home" "$DIR/mnesia" "$DIR/log"
    : >"$DIR/rabbitmq-env.conf"
    echo "[]." >"$DIR/enabled_plugins"
    echo "[]." >"$DIR/advanced.config"
    cat >"$DIR/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$PORT
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
    chmod 700 "$DIR/home"

    # setsid: the node is its own process group, so a caller's Ctrl-C or job control does not reach it.
    node_env
    setsid env "${NODE_ENV[@]}" "$(rabbit_bin rabbitmq-server)" >"$DIR/log/server.out" 2>&1 </dev/null &
    SERVER_PID=$!
    cat >"$STATE_FILE" <<EOF
DIR='$DIR'
NODE='$NODE'
PORT='$PORT'
SERVER_PID='$SERVER_PID'
EOF

    log "starting $NODE on 127.0.0.1:$PORT (files in $DIR)"
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until ctl await_startup --timeout 10 >/dev/null 2>&1; do
        if ! process_alive; then
            tail -n 40 "$DIR/log/server.out" >&2 || true
            stop
            die "the broker exited during start-up"
        fi
        if (( SECONDS >= deadline )); then
            tail -n 40 "$DIR/log/server.out" >&2 || true
            stop
            die "the broker did not start within ${STARTUP_TIMEOUT}s"
        fi
        sleep 1
    done
    log "broker $NODE is up"
    print_exports
}

stop() {
    if ! load_state; then
        log "no broker recorded in $STATE_FILE; nothing to stop"
        return 0
    fi
    if process_alive; then
        log "stopping $NODE"
        timeout 60 "$SELF" ctl stop >/dev/null 2>&1 || true
        local i
        for i in $(seq 1 30); do
            process_alive || break
            sleep 1
        done
        if process_alive; then
            log "the broker did not stop; killing process group $SERVER_PID"
            kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
            sleep 2
            kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
        fi
    fi
    # The state file only ever names a directory this script created under /tmp.
    if [[ "$DIR" == /tmp/orderses-rabbitmq.* ]]; then
        rm -rf -- "$DIR"
    fi
    rm -f -- "$STATE_FILE"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    ctl)
        shift
        load_state || die "no broker is running (start it with: $0 start)"
        ctl "$@"
        ;;
    env)
        load_state || die "no broker is running (start it with: $0 start)"
        print_exports
        ;;
    *)
        echo "usage: $0 start|stop|env|ctl <rabbitmqctl arguments>" >&2
        exit 2
        ;;
esac
