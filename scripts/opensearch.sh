#!/usr/bin/env bash
# Fetch, start, stop a local single-node OpenSearch for the demo and the tests.
#
#   scripts/opensearch.sh start [--secure | --nodes 3]   fetch if needed, start (or reuse a running one), wait for health
#   scripts/opensearch.sh stop [--secure | --nodes 3]    stop the instance this script started
#   scripts/opensearch.sh status [--secure | --nodes 3]  print the cluster health, exit 1 if unreachable
#   scripts/opensearch.sh url [--secure | --nodes 3]     print the URL clients should use
#   scripts/opensearch.sh env --secure | --nodes 3       print the settings a client of that cluster needs
#
# The plain node (127.0.0.1:9200) has no security at all. `--secure` is a second node of its own
# (https://127.0.0.1:9201, its own install, data, configuration and heap) with the security
# plugin: TLS on the transport and HTTP layers with a CA, node and admin client certificate this
# script makes with openssl, an `admin` user whose password is generated into a file only the
# runner can read, and the security index initialised by the plugin's own securityadmin tool.
# What only the runner may read (the CA key, the admin certificate and key, the password) lives
# in LOGFERRY_OPENSEARCH_SECRETS, apart from the install the unprivileged node user owns.
#
# `--nodes 3` is a cluster of three nodes of the same distribution (its own install beside the
# plain node's; each node its own configuration directory, data, logs and 512 MiB heap) on
# loopback: HTTP 127.0.0.1:9210-9212, transport 9310-9312. Three nodes elect a cluster manager
# among themselves, so any one of them may be killed and the other two go on. `start --nodes 3`
# starts whichever of the three is not running (after a test killed one, say) and waits until
# all three are in the cluster; `env --nodes 3` prints each node's URL and pid file.
#
# OPENSEARCH_URL pointing anywhere but the local default means "use that cluster": start only
# waits for it to answer (plain node only). Downloads come from Maven Central and are cached in
# LOGFERRY_CACHE, so a second run on the same machine downloads nothing.
set -euo pipefail

# The one place the OpenSearch version is pinned. The job-scheduler plugin is published for
# 2.19.0, 2.19.1 and 2.19.4 only, and the integ-test distribution for 2.19.0, 2.19.1 and 2.19.6:
# 2.19.1 is the newest release both exist for. It runs on Java 11+. The security plugin is
# published for it too (2.19.1.0).
OPENSEARCH_VERSION=2.19.1
PLUGIN_VERSION="${OPENSEARCH_VERSION}.0"

MAVEN=${LOGFERRY_MAVEN_URL:-https://repo1.maven.org/maven2}
CACHE=${LOGFERRY_CACHE:-$HOME/.cache/logferry}
OS_USER=${LOGFERRY_OPENSEARCH_USER:-logferry-os}

log() { printf 'opensearch.sh: %s\n' "$*" >&2; }
usage() { echo "usage: $0 start|stop|status|url [--secure | --nodes 3] | env --secure | env --nodes 3" >&2; exit 2; }

COMMAND=${1:-}
SECURE=0
NODES=1
[[ $# -gt 0 ]] && shift
while [[ $# -gt 0 ]]; do
  case $1 in
    --secure) SECURE=1 ;;
    --nodes)
      [[ ${2:-} == 3 ]] || usage # three: the smallest cluster that survives a node lost
      NODES=3
      shift
      ;;
    *) usage ;;
  esac
  shift
done
((SECURE && NODES > 1)) && usage

if ((NODES > 1)); then
  # The plain node's plugins: the same distribution, one node more than twice.
  PLUGINS=(opensearch-job-scheduler opensearch-index-management opensearch-alerting opensearch-sql-plugin)
  OS_HOME=${LOGFERRY_OPENSEARCH_CLUSTER_HOME:-/var/tmp/logferry/opensearch-$OPENSEARCH_VERSION-cluster}
  FIRST_HTTP_PORT=${LOGFERRY_OPENSEARCH_CLUSTER_PORT:-9210}
  HTTP_PORT=$FIRST_HTTP_PORT
  FIRST_TRANSPORT_PORT=$((FIRST_HTTP_PORT + 100))
  TRANSPORT_PORT=""
  CLUSTER=logferry-cluster
  LOCAL_URL=http://127.0.0.1:$FIRST_HTTP_PORT
  URL=$LOCAL_URL
  HEAP=${LOGFERRY_OPENSEARCH_CLUSTER_HEAP:-512m}
elif ((SECURE)); then
  # Only the security plugin: nothing else competes for the node's small heap.
  PLUGINS=(opensearch-security)
  OS_HOME=${LOGFERRY_OPENSEARCH_SECURE_HOME:-/var/tmp/logferry/opensearch-$OPENSEARCH_VERSION-secure}
  SECRETS=${LOGFERRY_OPENSEARCH_SECRETS:-/var/tmp/logferry/secure-$OPENSEARCH_VERSION}
  HTTP_PORT=${LOGFERRY_OPENSEARCH_SECURE_PORT:-9201}
  TRANSPORT_PORT=$((HTTP_PORT + 100))
  CLUSTER=logferry-secure
  LOCAL_URL=https://127.0.0.1:$HTTP_PORT
  URL=$LOCAL_URL
  HEAP=${LOGFERRY_OPENSEARCH_SECURE_HEAP:-640m}
  # Distinguished names, as the plugin writes them (RFC 2253: most specific first).
  SUBJECT_BASE="/O=logferry/OU=local opensearch"
  NODE_DN="CN=localhost,OU=local opensearch,O=logferry"
  ADMIN_DN="CN=logferry-admin,OU=local opensearch,O=logferry"
  ADMIN_USER=admin
  MARK="written by scripts/opensearch.sh"
else
  # Plugins we want. Only job-scheduler is on Maven Central today; the others are tried and
  # reported as unavailable, so that they install by themselves once they are published.
  PLUGINS=(opensearch-job-scheduler opensearch-index-management opensearch-alerting opensearch-sql-plugin)
  # The install lives outside $HOME: OpenSearch runs as an unprivileged user that cannot read /root.
  OS_HOME=${LOGFERRY_OPENSEARCH_HOME:-/var/tmp/logferry/opensearch-$OPENSEARCH_VERSION}
  HTTP_PORT=9200
  TRANSPORT_PORT=""
  CLUSTER=logferry-local
  LOCAL_URL=http://127.0.0.1:9200
  URL=${OPENSEARCH_URL:-$LOCAL_URL}
  HEAP=${LOGFERRY_OPENSEARCH_HEAP:-768m}
fi

# curl as the admin client certificate (secured node): no password on any command line.
os_curl() {
  if ((SECURE)); then
    curl --cacert "$SECRETS/ca.pem" --cert "$SECRETS/admin.pem" --key "$SECRETS/admin-key.pem" "$@"
  else
    curl "$@"
  fi
}

healthy() {
  local all=""
  ((NODES > 1)) && all="&wait_for_nodes=$NODES"
  os_curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow$all&timeout=4s" >/dev/null 2>&1
}

# The pid file and log of each node (node 1 to $NODES; the single node is node 1).
pidfile_of() { if ((NODES > 1)); then echo "$OS_HOME/node-$1.pid"; else echo "$OS_HOME/opensearch.pid"; fi; }
logfile_of() { if ((NODES > 1)); then echo "$OS_HOME/logs/node-$1/$CLUSTER.log"; else echo "$OS_HOME/logs/$CLUSTER.log"; fi; }

wait_until() { # wait_until SECONDS CHECK...: poll CHECK while the nodes live
  local deadline=$((SECONDS + $1))
  shift
  local n pidfile
  until "$@"; do
    for n in $(seq "$NODES"); do
      pidfile=$(pidfile_of "$n")
      if [[ -s $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        log "OpenSearch node $n exited during start-up; last log lines:"
        tail -n 30 "$(logfile_of "$n")" >&2 2>/dev/null || true
        return 1
      fi
    done
    if ((SECONDS > deadline)); then
      log "no healthy cluster at $URL; last log lines:"
      tail -n 30 "$(logfile_of 1)" >&2 2>/dev/null || true
      return 1
    fi
    sleep 2
  done
}

wait_healthy() { wait_until "${1:-180}" healthy; }

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
      OPENSEARCH_JAVA_HOME=$(java_home) "$tree/bin/opensearch-plugin" install --batch "file://$pzip" >"$staging/plugin.log" 2>&1 \
        || { log "installing $plugin failed:"; tail -n 20 "$staging/plugin.log" >&2; return 1; }
      log "installed plugin $plugin"
    elif ((SECURE)); then
      log "the security plugin $PLUGIN_VERSION could not be fetched from $MAVEN"
      rm -rf "$staging"
      return 1
    else
      log "plugin $plugin $PLUGIN_VERSION is not on Maven Central; continuing without it"
    fi
  done
  if ((NODES > 1)); then
    cluster_config "$tree"
  else
    cat >>"$tree/config/opensearch.yml" <<EOF
cluster.name: $CLUSTER
node.name: $CLUSTER
discovery.type: single-node
network.host: 127.0.0.1
http.port: $HTTP_PORT
# A developer disk can be fuller than a server's: never go read-only because of it.
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
EOF
  fi
  if ((SECURE)); then
    secure_settings >>"$tree/config/opensearch.yml"
    chmod +x "$tree"/plugins/opensearch-security/tools/*.sh
  fi
  sed -i -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" "$tree"/config*/jvm.options
  mv "$tree" "$OS_HOME"
  rm -rf "$staging"
}

# -- the three-node cluster ----------------------------------------------------------------

# Each node's configuration directory (config-node-N, OPENSEARCH_PATH_CONF): the distribution's
# files, with the node's name, ports and paths; its JVM writes its GC log, heap dumps and error
# files apart from the others'.
cluster_config() {
  local tree=$1 n seeds="" managers=""
  for n in $(seq "$NODES"); do
    seeds+="${seeds:+, }\"127.0.0.1:$((FIRST_TRANSPORT_PORT + n - 1))\""
    managers+="${managers:+, }\"$CLUSTER-$n\""
  done
  for n in $(seq "$NODES"); do
    cp -a "$tree/config" "$tree/config-node-$n"
    mkdir -p "$tree/logs/node-$n" "$tree/data/node-$n"
    cat >>"$tree/config-node-$n/opensearch.yml" <<EOF
cluster.name: $CLUSTER
node.name: $CLUSTER-$n
network.host: 127.0.0.1
http.port: $((FIRST_HTTP_PORT + n - 1))
transport.port: $((FIRST_TRANSPORT_PORT + n - 1))
discovery.seed_hosts: [$seeds]
cluster.initial_cluster_manager_nodes: [$managers]
path.data: $OS_HOME/data/node-$n
path.logs: $OS_HOME/logs/node-$n
# A developer disk can be fuller than a server's: never go read-only because of it.
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
# A shared developer machine stalls now and then (a minute of disk wait under another job's
# load was seen): no node may call itself unhealthy, or a live peer dead, for that. A killed
# node is still seen gone at once (its connections close).
monitor.fs.health.enabled: false
cluster.fault_detection.leader_check.timeout: 30s
cluster.fault_detection.follower_check.timeout: 30s
EOF
    sed -i -e "s#logs/gc.log#logs/node-$n/gc.log#" -e "s#^-XX:HeapDumpPath=data#-XX:HeapDumpPath=data/node-$n#" \
      -e "s#^-XX:ErrorFile=logs/#-XX:ErrorFile=logs/node-$n/#" "$tree/config-node-$n/jvm.options"
  done
}

start_cluster() {
  local began=$SECONDS n pidfile started=0
  install
  for n in $(seq "$NODES"); do
    pidfile=$(pidfile_of "$n")
    if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
    log "starting node $n of $NODES at http://127.0.0.1:$((FIRST_HTTP_PORT + n - 1)) (logs: $OS_HOME/logs/node-$n)"
    rm -f "$pidfile"
    as_service_user env OPENSEARCH_JAVA_HOME="$(java_home)" OPENSEARCH_PATH_CONF="$OS_HOME/config-node-$n" \
      "$OS_HOME/bin/opensearch" -d -p "$pidfile" >"$OS_HOME/logs/node-$n/console.log" 2>&1 \
      || { log "node $n did not start:"; tail -n 30 "$OS_HOME/logs/node-$n/console.log" >&2; return 1; }
    started=$((started + 1))
  done
  if ((started == 0)) && healthy; then log "reusing the cluster at $URL"; return 0; fi
  wait_healthy 300
  log "$NODES nodes in the cluster in $((SECONDS - began))s"
}

# -- the secured node ---------------------------------------------------------------------

secure_settings() {
  cat <<EOF
transport.port: $TRANSPORT_PORT
# Security plugin: TLS on both layers with the certificates of scripts/opensearch.sh (never the
# plugin's demo ones), users authenticated by HTTP basic auth against the internal user store.
plugins.security.ssl.transport.pemcert_filepath: node.pem
plugins.security.ssl.transport.pemkey_filepath: node-key.pem
plugins.security.ssl.transport.pemtrustedcas_filepath: ca.pem
plugins.security.ssl.transport.enforce_hostname_verification: true
plugins.security.ssl.http.enabled: true
plugins.security.ssl.http.pemcert_filepath: node.pem
plugins.security.ssl.http.pemkey_filepath: node-key.pem
plugins.security.ssl.http.pemtrustedcas_filepath: ca.pem
plugins.security.ssl.http.clientauth_mode: OPTIONAL
plugins.security.nodes_dn: ["$NODE_DN"]
plugins.security.authcz.admin_dn: ["$ADMIN_DN"]
plugins.security.allow_default_init_securityindex: false
plugins.security.restapi.roles_enabled: ["all_access"]
plugins.security.system_indices.enabled: true
plugins.security.audit.type: noop
EOF
}

# The CA, the node's certificate (server and client of the transport layer, and the HTTPS
# server) and the admin client certificate securityadmin signs in with. Keys are PKCS#8.
certificates() {
  [[ -s $SECRETS/ca.pem && -s $SECRETS/node.pem && -s $SECRETS/admin.pem ]] && return 0
  log "generating a CA, the node's and the admin's certificates in $SECRETS"
  local dir=$SECRETS days=825
  openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/ca-key.pem"
  openssl req -x509 -new -sha256 -days 3650 -key "$dir/ca-key.pem" -out "$dir/ca.pem" \
    -subj "$SUBJECT_BASE/CN=logferry local CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  local name cn usage
  for name in node admin; do
    if [[ $name == node ]]; then
      cn=localhost
      usage="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
    else
      cn=logferry-admin
      usage="extendedKeyUsage=clientAuth"
    fi
    openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$name-key.pem"
    openssl req -new -sha256 -key "$dir/$name-key.pem" -subj "$SUBJECT_BASE/CN=$cn" -out "$dir/$name.csr"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" "$usage" >"$dir/$name.ext"
    openssl x509 -req -sha256 -days $days -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
      -CAcreateserial -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
  done
  chmod 600 "$dir"/*
}

# The admin's password: generated once, readable by the runner only; the node gets its hash.
admin_password() {
  local file=$SECRETS/admin-password users=$OS_HOME/config/opensearch-security/internal_users.yml
  if [[ ! -s $file ]]; then
    log "generating the admin password into $file"
    (umask 077 && openssl rand -base64 48 | tr -d '\n/+=' | cut -c1-40 >"$file.part" && mv "$file.part" "$file")
  fi
  # Ours (never the plugin's demo users), and hashed from the password file as it is now.
  [[ $users -nt $file ]] && grep -q "^# $MARK" "$users" && return 0
  local hash
  hash=$(LOGFERRY_HASH_INPUT=$(cat "$file") OPENSEARCH_JAVA_HOME=$(java_home) \
    "$OS_HOME/plugins/opensearch-security/tools/hash.sh" -env LOGFERRY_HASH_INPUT | tail -n 1)
  [[ $hash == \$2* ]] || { log "hashing the admin password failed"; return 1; }
  put "$users" <<EOF
# $MARK
_meta:
  type: "internalusers"
  config_version: 2
$ADMIN_USER:
  hash: "$hash"
  reserved: true
  description: "logferry local administrator (password in $file)"
EOF
}

put() { # put FILE: write stdin to FILE unless it holds exactly that already (keeps its mtime)
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod 600 "$tmp"; mv "$tmp" "$1"; fi
}

# The security configuration securityadmin loads: the plugin's own files for what we leave as
# shipped, ours for who may sign in and what the admin may do (the demo users are never kept).
security_config() {
  local dir=$OS_HOME/config/opensearch-security
  cp "$SECRETS/ca.pem" "$SECRETS/node.pem" "$SECRETS/node-key.pem" "$OS_HOME/config/"
  put "$dir/config.yml" <<'EOF'
_meta:
  type: "config"
  config_version: 2
config:
  dynamic:
    http:
      anonymous_auth_enabled: false
    authc:
      basic_internal_auth_domain:
        description: "HTTP basic auth against the internal user store"
        http_enabled: true
        transport_enabled: true
        order: 0
        http_authenticator:
          type: basic
          challenge: true
        authentication_backend:
          type: intern
EOF
  put "$dir/roles.yml" <<'EOF'
_meta:
  type: "roles"
  config_version: 2
EOF
  put "$dir/roles_mapping.yml" <<EOF
_meta:
  type: "rolesmapping"
  config_version: 2
all_access:
  reserved: false
  users: ["$ADMIN_USER"]
  description: "the local administrator"
EOF
  put "$dir/tenants.yml" <<'EOF'
_meta:
  type: "tenants"
  config_version: 2
EOF
  put "$dir/audit.yml" <<'EOF'
_meta:
  type: "audit"
  config_version: 2
config:
  enabled: false
EOF
  admin_password
}

security_state() { # UP once the security index is initialised; no credentials needed
  curl -sS -m 5 --cacert "$SECRETS/ca.pem" "$URL/_plugins/_security/health" 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin).get("status", ""))' 2>/dev/null || true
}

security_up() { [[ $(security_state) == UP ]]; }

initialise_security() {
  # The admin certificate is let in before the security index exists: wait for the cluster.
  wait_healthy 180
  local stamp=$SECRETS/securityadmin.stamp
  local index
  index=$(os_curl -s -o /dev/null -w '%{http_code}' -m 5 "$URL/.opendistro_security")
  # Initialised before, with the configuration as it is now: the node loads it by itself.
  if [[ $index == 200 && -e $stamp ]] &&
    [[ -z $(find "$OS_HOME/config/opensearch-security" -newer "$stamp" -name '*.yml') ]]; then
    wait_until 120 security_up
    return
  fi
  log "initialising the security index with securityadmin"
  if ! OPENSEARCH_JAVA_HOME=$(java_home) "$OS_HOME/plugins/opensearch-security/tools/securityadmin.sh" \
    -cd "$OS_HOME/config/opensearch-security" -icl -h 127.0.0.1 -p "$HTTP_PORT" \
    -cacert "$SECRETS/ca.pem" -cert "$SECRETS/admin.pem" -key "$SECRETS/admin-key.pem" \
    >"$SECRETS/securityadmin.log" 2>&1; then
    log "securityadmin failed:"
    tail -n 20 "$SECRETS/securityadmin.log" >&2
    return 1
  fi
  touch "$stamp"
  # The node picks the new configuration up a few seconds later.
  wait_until 120 security_up
}

prepare_secure() {
  (umask 077 && mkdir -p "$SECRETS")
  chmod 700 "$SECRETS"
  certificates
  security_config
  # The plugin wants the node's configuration (keys, hashes) readable by the node's user only.
  chmod -R go-rwx "$OS_HOME/config"
}

# -- commands -----------------------------------------------------------------------------

as_service_user() { # run a command as the unprivileged user when we are root
  if [[ $(id -u) -ne 0 ]]; then "$@"; return; fi
  id "$OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  chown -R "$OS_USER" "$OS_HOME"
  runuser -u "$OS_USER" -- "$@"
}

start() {
  if ((NODES > 1)); then start_cluster; return; fi
  if ((SECURE)) && [[ -s $SECRETS/admin.pem ]] && healthy; then
    log "reusing the secured node at $URL"; return 0
  fi
  if ((!SECURE)) && healthy; then log "reusing the cluster at $URL"; return 0; fi
  if [[ $URL != "$LOCAL_URL" ]]; then wait_healthy 60; return; fi
  local began=$SECONDS
  install
  ((SECURE)) && prepare_secure
  log "starting OpenSearch $OPENSEARCH_VERSION at $LOCAL_URL (logs: $OS_HOME/logs)"
  rm -f "$OS_HOME/opensearch.pid"
  as_service_user env OPENSEARCH_JAVA_HOME="$(java_home)" "$OS_HOME/bin/opensearch" -d -p "$OS_HOME/opensearch.pid" >"$OS_HOME/logs/console.log" 2>&1 \
    || { log "OpenSearch did not start:"; tail -n 30 "$OS_HOME/logs/console.log" >&2; return 1; }
  ((SECURE)) && initialise_security
  wait_healthy 180
  log "ready in $((SECONDS - began))s"
}

stop() {
  local n pidfile pid pids=()
  for n in $(seq "$NODES"); do
    pidfile=$(pidfile_of "$n")
    [[ -s $pidfile ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  if ((${#pids[@]} == 0)); then log "not started by this script"; return 0; fi
  for pid in "${pids[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  done
  for n in $(seq "$NODES"); do rm -f "$(pidfile_of "$n")"; done
  log "stopped"
}

case $COMMAND in
  start) start ;;
  stop) stop ;;
  status)
    os_curl -fsS -m 5 "$URL/_cluster/health?pretty"
    if ((NODES > 1)); then os_curl -fsS -m 5 "$URL/_cat/nodes?v&h=name,http_address,node.role,cluster_manager,heap.max"; fi
    ;;
  url) echo "$URL" ;;
  env)
    if ((NODES > 1)); then
      urls="" pidfiles=""
      for n in $(seq "$NODES"); do
        urls+="${urls:+,}http://127.0.0.1:$((FIRST_HTTP_PORT + n - 1))"
        pidfiles+="${pidfiles:+,}$(pidfile_of "$n")"
      done
      # Node n is $CLUSTER-n, at the n-th URL, its pid in the n-th file.
      printf '%s\n' "OPENSEARCH_URL=$URL" "LOGFERRY_CLUSTER_NODE_URLS=$urls" \
        "LOGFERRY_CLUSTER_NODE_PIDFILES=$pidfiles" "LOGFERRY_CLUSTER_NODE_NAME_PREFIX=$CLUSTER-"
      exit 0
    fi
    ((SECURE)) || usage
    # Paths, never the password itself: read it from the file.
    printf '%s\n' "OPENSEARCH_URL=$URL" "LOGFERRY_CA_BUNDLE=$SECRETS/ca.pem" \
      "LOGFERRY_OPENSEARCH_USERNAME=$ADMIN_USER" "LOGFERRY_SECURE_PASSWORD_FILE=$SECRETS/admin-password" \
      "LOGFERRY_SECURE_ADMIN_CERT=$SECRETS/admin.pem" "LOGFERRY_SECURE_ADMIN_KEY=$SECRETS/admin-key.pem" \
      "LOGFERRY_SECURE_CA_KEY=$SECRETS/ca-key.pem"
    ;;
  *) usage ;;
esac
