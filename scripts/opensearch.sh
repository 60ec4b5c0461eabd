#!/usr/bin/env bash
# Fetch, start, stop a local single-node OpenSearch for the demo and the tests.
#
#   scripts/opensearch.sh start    fetch if needed, start (or reuse a running one), wait for health
#   scripts/opensearch.sh stop     stop the instance this script started
#   scripts/opensearch.sh status   print the cluster health, exit 1 if unreachable
#   scripts/opensearch.sh url      print the URL clients should use
#
# OPENSEARCH_URL pointing anywhere but the local default means "use that cluster": start only
# waits for it to answer. Downloads come from Maven Central and are cached in LOGFERRY_CACHE, so
# a second run on the same machine downloads nothing.
set -euo pipefail

# The one place the OpenSearch version is pinned. The job-scheduler plugin is published for
# 2.19.0, 2.19.1 and 2.19.4 only, and the integ-test distribution for 2.19.0, 2.19.1 and 2.19.6:
# 2.19.1 is the newest release both exist for. It runs on Java 11+.
OPENSEARCH_VERSION=2.19.1
PLUGIN_VERSION="${OPENSEARCH_VERSION}.0"
# Plugins we want. Only job-scheduler is on Maven Central today; the others are tried and
# reported as unavailable, so that they install by themselves once they are published.
PLUGINS=(opensearch-job-scheduler opensearch-index-management opensearch-alerting opensearch-sql-plugin)

MAVEN=${LOGFERRY_MAVEN_URL:-https://repo1.maven.org/maven2}
CACHE=${LOGFERRY_CACHE:-$HOME/.cache/logferry}
# The install lives outside $HOME: OpenSearch runs as an unprivileged user that cannot read /root.
OS_HOME=${LOGFERRY_OPENSEARCH_HOME:-/var/tmp/logferry/opensearch-$OPENSEARCH_VERSION}
OS_USER=${LOGFERRY_OPENSEARCH_USER:-logferry-os}
LOCAL_URL=http://127.0.0.1:9200
URL=${OPENSEARCH_URL:-$LOCAL_URL}
HEAP=${LOGFERRY_OPENSEARCH_HEAP:-768m}

log() { printf 'opensearch.sh: %s\n' "$*" >&2; }

healthy() {
  curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=4s" >/dev/null 2>&1
}

wait_healthy() {
  local deadline=$((SECONDS + ${1:-180}))
  local pidfile=$OS_HOME/opensearch.pid
  until healthy; do
    if [[ -s $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "OpenSearch exited during start-up; last log lines:"
      tail -n 30 "$OS_HOME/logs/opensearch.log" >&2 2>/dev/null || true
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "no healthy cluster at $URL; last log lines:"
      tail -n 30 "$OS_HOME/logs/opensearch.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 2
  done
}

fetch() { # fetch URL FILE: download once into the cache
  local url=$1 file=$2
  [[ -s $file ]] && return 0
  mkdir -p "$(dirname "$file")"
  curl -fsSL --retry 3 -o "$file.part" "$url" && mv "$file.part" "$file"
}

java_home() {
  if [[ -n ${OPENSEARCH_JAVA_HOME:-} ]]; then echo "$OPENSEARCH_JAVA_HOME"; return; fi
  if [[ -n ${JAVA_HOME:-} ]]; then echo "$JAVA_HOME"; return; fi
  local java
  java=$(command -v java) || { log "no java on PATH: install a JDK 11+ (e.g. apt-get install openjdk-17-jdk-headless)"; exit 1; }
  dirname "$(dirname "$(readlink -f "$java")")"
}

install() {
  [[ -x $OS_HOME/bin/opensearch ]] && return 0
  local zip=$CACHE/opensearch-$OPENSEARCH_VERSION.zip
  log "fetching OpenSearch $OPENSEARCH_VERSION (integ-test distribution) from Maven Central"
  fetch "$MAVEN/org/opensearch/distribution/integ-test-zip/opensearch/$OPENSEARCH_VERSION/opensearch-$OPENSEARCH_VERSION.zip" "$zip"
  local staging
  mkdir -p "$(dirname "$OS_HOME")"
  staging=$(mktemp -d "$(dirname "$OS_HOME")/install.XXXXXX")
  (cd "$staging" && python3 -m zipfile -e "$zip" .)
  local tree=$staging/opensearch-$OPENSEARCH_VERSION
  chmod +x "$tree"/bin/*
  for plugin in "${PLUGINS[@]}"; do
    local pzip=$CACHE/$plugin-$PLUGIN_VERSION.zip
    if fetch "$MAVEN/org/opensearch/plugin/$plugin/$PLUGIN_VERSION/$plugin-$PLUGIN_VERSION.zip" "$pzip" 2>/dev/null; then
      OPENSEARCH_JAVA_HOME=$(java_home) "$tree/bin/opensearch-plugin" install --batch "file://$pzip" >/dev/null
      log "installed plugin $plugin"
    else
      log "plugin $plugin $PLUGIN_VERSION is not on Maven Central; continuing without it"
    fi
  done
  cat >>"$tree/config/opensearch.yml" <<EOF
cluster.name: logferry-local
node.name: logferry-local
discovery.type: single-node
network.host: 127.0.0.1
http.port: 9200
# A developer disk can be fuller than a server's: never go read-only because of it.
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
EOF
  sed -i -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" "$tree/config/jvm.options"
  mv "$tree" "$OS_HOME"
  rm -rf "$staging"
}

as_service_user() { # run a command as the unprivileged user when we are root
  if [[ $(id -u) -ne 0 ]]; then "$@"; return; fi
  id "$OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  chown -R "$OS_USER" "$OS_HOME"
  runuser -u "$OS_USER" -- "$@"
}

start() {
  if healthy; then log "reusing the cluster at $URL"; return 0; fi
  if [[ $URL != "$LOCAL_URL" ]]; then wait_healthy 60; return; fi
  install
  log "starting OpenSearch $OPENSEARCH_VERSION at $LOCAL_URL (logs: $OS_HOME/logs)"
  rm -f "$OS_HOME/opensearch.pid"
  as_service_user env OPENSEARCH_JAVA_HOME="$(java_home)" "$OS_HOME/bin/opensearch" -d -p "$OS_HOME/opensearch.pid" >"$OS_HOME/logs/console.log" 2>&1 \
    || { log "OpenSearch did not start:"; tail -n 30 "$OS_HOME/logs/console.log" >&2; return 1; }
  wait_healthy 180
  log "ready"
}

stop() {
  local pidfile=$OS_HOME/opensearch.pid
  if [[ ! -s $pidfile ]]; then log "not started by this script"; return 0; fi
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  rm -f "$pidfile"
  log "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) curl -fsS -m 5 "$URL/_cluster/health?pretty" ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
