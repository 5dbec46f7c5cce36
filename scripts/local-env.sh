#!/usr/bin/env bash
# Local stand-ins for the services the integration tests talk to:
#   - Apache Pulsar standalone (broker + bookie + functions worker, process runtime)
#   - kinesalite (Kinesis emulator, npm)
#   - moto server (Kinesis/CloudWatch/STS emulator, PyPI)
#
# Usage: scripts/local-env.sh up|down|env|status|clean [pulsar|kinesalite|moto ...]
#
#   up      install on first use (into $KS_CACHE_DIR) and start every service on 127.0.0.1, then wait until each
#           answers. Idempotent: a service this state directory already runs is left as it is.
#   down    stop what `up` started (and only that), including function instances spawned by the Pulsar worker.
#   env     print `export` lines for the integration tests: eval "$(scripts/local-env.sh env)".
#   status  print what runs.
#   clean   `down`, then delete the state directory (Pulsar data, logs).
#
# Settings (environment variables; each is recorded by `up`, so later `env`/`status`/`down` calls find the same
# instance without repeating them; a setting given explicitly always wins):
#   KS_CACHE_DIR           downloads and installs, shared by every copy      (default <repo>/.cache)
#   KS_STATE_DIR           pid files, logs, data of one running copy          (default <repo>/.local-env)
#                          Two copies on one machine need two state dirs and two port sets.
#   KS_PULSAR_BROKER_PORT  Pulsar binary protocol port                        (default 6650)
#   KS_PULSAR_WEB_PORT     Pulsar admin/REST port, also the functions worker  (default 8080)
#   KS_PULSAR_BOOKIE_PORT  the standalone's embedded bookie                   (default 3181)
#   KS_KINESALITE_PORT     kinesalite                                         (default 4567)
#   KS_MOTO_PORT           moto server                                        (default 5000)
#   KS_EXTERNAL_PULSAR=1   Pulsar already runs at the configured ports: use it, never start or stop it. PULSAR_HOME
#                          then names its installation (for bin/pulsar-admin); without it the cached one is used.
#   KS_PULSAR_VERSION      Pulsar line to run (default 4.0.8). 3.x and 4.x come as the server distribution from
#                          Maven Central; 5.x is not published there, so it is assembled from its broker, functions
#                          worker and client-tools jars (scripts/pulsar-assembly/pom.xml) with the 4.0.8 distribution's
#                          scripts and configuration, and runs on a JDK of 21 or later found on the machine.
#   KS_PULSAR_MEM          JVM memory flags for the standalone (default "-Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g")
#   KS_PULSAR_KEEP_DATA=1  keep Pulsar's data from the previous run; by default each fresh start wipes it, so that
#                          functions left registered by an earlier run are not started again.
#   KS_PULSAR_START_TIMEOUT seconds to wait for broker + functions worker     (default 420)
#   KS_START_TIMEOUT       seconds to wait for kinesalite and moto             (default 90)
#   KS_STOP_TIMEOUT        seconds between SIGTERM and SIGKILL on `down`       (default 45)
#   KS_MOTO_VERSION        moto release installed from PyPI                   (default 5.2.5)
#   KS_PYTHON              interpreter used to create moto's venv              (default python3)
#   KS_PULSAR_AUTH         none or token (default none). token: the standalone (broker, admin API and its functions
#                          worker) requires token authentication: `up` generates an HMAC secret key and a token for
#                          the super-user role "admin" under the state dir, configures the broker's and the worker's
#                          own clients with it, and `env` prints it as PULSAR_AUTH_TOKEN. Meant for a second copy
#                          (own KS_STATE_DIR and ports) used by the authentication tests.
#   KS_PULSAR_TLS_PORT     when set, the broker also serves pulsar+ssl:// on this port with a self-signed certificate
#                          for 127.0.0.1 made by openssl under the state dir; `env` prints its path as
#                          PULSAR_TLS_CERT and the URL as PULSAR_TLS_SERVICE_URL. For the TLS tests.
#   KS_MAVEN_ARGS          extra arguments for the Maven call that fetches Pulsar (e.g. -Dmaven.repo.local=...)
#   KS_TOPOLOGY            standalone (default) or cluster: instead of the standalone, a multi-node cluster (ZooKeeper,
#                          two bookies, two brokers with embedded functions workers; scripts/lib/cluster.sh, docs/cluster.md)
#                          with its own defaults so that it runs beside a standalone: state dir <repo>/.local-cluster,
#                          brokers 26650/26651, web 28080/28081, bookies 23181/23182, kinesalite 24567, moto 25000.
#                          `env` then also prints PULSAR_CLUSTER_WEB_URLS and PULSAR_CLUSTER_SERVICE_URLS.
set -euo pipefail

# The distribution whose bin/ and conf/ an assembled line (5.x) borrows.
readonly PULSAR_BASE_VERSION=4.0.8
readonly KINESALITE_VERSION=3.3.3
readonly ALL_SERVICES=(pulsar kinesalite moto)

log() { printf 'local-env: %s\n' "$*" >&2; }
die() {
	printf 'local-env: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

abspath() {
	case $1 in
	/*) printf '%s' "$1" ;;
	*) printf '%s/%s' "$PWD" "$1" ;;
	esac
}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=$(abspath "${KS_CACHE_DIR:-$REPO_ROOT/.cache}")
TOPOLOGY=${KS_TOPOLOGY:-standalone}
case $TOPOLOGY in
standalone) STATE_DIR=$(abspath "${KS_STATE_DIR:-$REPO_ROOT/.local-env}") ;;
cluster) STATE_DIR=$(abspath "${KS_STATE_DIR:-$REPO_ROOT/.local-cluster}") ;;
*) die "KS_TOPOLOGY=$TOPOLOGY; allowed: standalone or cluster" ;;
esac
CONFIG_FILE="$STATE_DIR/config.env"
# Every process `up` starts carries this in its environment, and so does everything those processes spawn (function
# instances launched by the Pulsar worker). `down` relies on it to find its own processes and nothing else, and it
# guards against a recycled PID in a stale pid file.
MARK="KS_LOCAL_ENV_ID=$STATE_DIR"

# Settings recorded by the last `up` of this state directory (rec_<NAME>), read without executing the file.
load_recorded() {
	[[ -f $CONFIG_FILE ]] || return 0
	local k v
	while IFS='=' read -r k v; do
		case $k in
		KS_* | PULSAR_HOME) printf -v "rec_$k" '%s' "$v" ;;
		esac
	done <"$CONFIG_FILE"
}

# setting NAME DEFAULT: the explicit environment value, else the recorded one, else the default.
setting() {
	local name=$1 def=$2 rec="rec_$1"
	if [[ -n ${!name:-} ]]; then
		printf '%s' "${!name}"
	elif [[ -n ${!rec:-} ]]; then
		printf '%s' "${!rec}"
	else
		printf '%s' "$def"
	fi
}

load_recorded
if [[ -n ${rec_KS_TOPOLOGY:-} && $rec_KS_TOPOLOGY != "$TOPOLOGY" ]] || [[ -z ${rec_KS_TOPOLOGY:-} && -f $CONFIG_FILE && $TOPOLOGY == cluster ]]; then
	die "$STATE_DIR holds a ${rec_KS_TOPOLOGY:-standalone}, not a $TOPOLOGY: use another KS_STATE_DIR"
fi
if [[ $TOPOLOGY == cluster ]]; then
	# Clear of the standalone's default ports and of CI's (16650, 18080, 13181, 14567, 15000).
	def_ports=(26650 28080 23181 24567 25000)
else
	def_ports=(6650 8080 3181 4567 5000)
fi
BROKER_PORT=$(setting KS_PULSAR_BROKER_PORT "${def_ports[0]}")
WEB_PORT=$(setting KS_PULSAR_WEB_PORT "${def_ports[1]}")
BOOKIE_PORT=$(setting KS_PULSAR_BOOKIE_PORT "${def_ports[2]}")
KINESALITE_PORT=$(setting KS_KINESALITE_PORT "${def_ports[3]}")
MOTO_PORT=$(setting KS_MOTO_PORT "${def_ports[4]}")
EXTERNAL_PULSAR=$(setting KS_EXTERNAL_PULSAR 0)
MOTO_VERSION=$(setting KS_MOTO_VERSION 5.2.5)
PULSAR_VERSION=$(setting KS_PULSAR_VERSION "$PULSAR_BASE_VERSION")
PULSAR_AUTH=$(setting KS_PULSAR_AUTH none)
TLS_PORT=$(setting KS_PULSAR_TLS_PORT "")
PULSAR_MEM_FLAGS=${KS_PULSAR_MEM:-"-Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g"}
PULSAR_START_TIMEOUT=${KS_PULSAR_START_TIMEOUT:-420}
START_TIMEOUT=${KS_START_TIMEOUT:-90}
STOP_TIMEOUT=${KS_STOP_TIMEOUT:-45}
PYTHON=${KS_PYTHON:-python3}

for v in BROKER_PORT WEB_PORT BOOKIE_PORT KINESALITE_PORT MOTO_PORT; do
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 65535)); then
		die "port $v=${!v} is not a TCP port; allowed: 1-65535"
	fi
done
for v in PULSAR_START_TIMEOUT START_TIMEOUT STOP_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "timeout $v=${!v} is not a whole number of seconds"
done
case $EXTERNAL_PULSAR in 0 | 1) ;; *) die "KS_EXTERNAL_PULSAR=$EXTERNAL_PULSAR; allowed: 0 or 1" ;; esac
[[ $PULSAR_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "KS_PULSAR_VERSION=$PULSAR_VERSION is not a Pulsar release (e.g. 3.3.6, 4.0.8, 5.0.1)"
PULSAR_MAJOR=${PULSAR_VERSION%%.*}
case $PULSAR_AUTH in none | token) ;; *) die "KS_PULSAR_AUTH=$PULSAR_AUTH; allowed: none or token" ;; esac
if [[ -n $TLS_PORT ]] && { ! [[ $TLS_PORT =~ ^[0-9]+$ ]] || ((TLS_PORT < 1 || TLS_PORT > 65535)); }; then
	die "port KS_PULSAR_TLS_PORT=$TLS_PORT is not a TCP port; allowed: 1-65535"
fi

PULSAR_INSTALL="$CACHE_DIR/pulsar/apache-pulsar-$PULSAR_VERSION"
if [[ $EXTERNAL_PULSAR == 1 ]]; then
	PULSAR_HOME_DIR=$(setting PULSAR_HOME "$PULSAR_INSTALL")
else
	PULSAR_HOME_DIR=$PULSAR_INSTALL
fi
KINESALITE_PREFIX="$CACHE_DIR/kinesalite"
MOTO_VENV="$CACHE_DIR/moto-venv"

WEB_URL="http://127.0.0.1:$WEB_PORT"
# With KS_PULSAR_AUTH=token: the secret key and the super-user token live here (outside pulsar/, which `up` rewrites).
TOKEN_DIR="$STATE_DIR/auth"
admin_token() { [[ $PULSAR_AUTH == token && -s $TOKEN_DIR/admin.token ]] && cat "$TOKEN_DIR/admin.token"; }
# Admin API calls carry the token when authentication is on.
curl_auth() {
	local tok
	if tok=$(admin_token); then
		curl -H "Authorization: Bearer $tok" "$@"
	else
		curl "$@"
	fi
}

svc_dir() { printf '%s/%s' "$STATE_DIR" "$1"; }
pid_file() { printf '%s/%s/%s.pid' "$STATE_DIR" "$1" "$1"; }
log_file() {
	case $1 in
	pulsar) printf '%s/pulsar/logs/standalone.log' "$STATE_DIR" ;;
	*) printf '%s/%s/%s.log' "$STATE_DIR" "$1" "$1" ;;
	esac
}
svc_ports() {
	case $1 in
	pulsar) echo "$BROKER_PORT $WEB_PORT $BOOKIE_PORT $TLS_PORT" ;;
	kinesalite) echo "$KINESALITE_PORT" ;;
	moto) echo "$MOTO_PORT" ;;
	esac
}
# The setting names whose recorded value must not change while the service runs.
svc_port_settings() {
	case $1 in
	pulsar) echo "KS_PULSAR_BROKER_PORT KS_PULSAR_WEB_PORT KS_PULSAR_BOOKIE_PORT" ;;
	kinesalite) echo KS_KINESALITE_PORT ;;
	moto) echo KS_MOTO_PORT ;;
	esac
}

# ---------------------------------------------------------------------------------------------------------------
# processes

# is_ours PID SERVICE: PID is alive and was started by `up` of this state directory for SERVICE.
is_ours() {
	local pid=$1 svc=$2
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/environ ]] || return 1
	grep -qzxF -- "$MARK" "/proc/$pid/environ" 2>/dev/null &&
		grep -qzxF -- "KS_LOCAL_ENV_SVC=$svc" "/proc/$pid/environ" 2>/dev/null
}

# PIDs of every live process carrying our mark for SERVICE (the server and anything it spawned).
marked_pids() {
	local svc=$1 f pid
	# One grep over every environment finds the candidates; only those are checked for the service.
	for f in $(grep -lzxF -- "$MARK" /proc/[0-9]*/environ 2>/dev/null || true); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		if is_ours "$pid" "$svc"; then
			printf '%s\n' "$pid"
		fi
	done
}

running_pid() {
	local svc=$1 pid
	pid=$(cat "$(pid_file "$svc")" 2>/dev/null) || return 1
	is_ours "$pid" "$svc" || return 1
	printf '%s' "$pid"
}

# spawn SERVICE WORKDIR CMD...: start CMD detached in a session of its own (so its process group holds it and every
# child it forks), output to the service's log file, marked so that `down` can find it again.
spawn() {
	local svc=$1 dir=$2
	shift 2
	local logf pid
	logf=$(log_file "$svc")
	mkdir -p "$(dirname "$logf")"
	printf '\n===== %s: local-env.sh starting %s =====\n' "$(date -u +%FT%TZ)" "$svc" >>"$logf"
	# Without job control a background job is not a process-group leader, so setsid(1) calls setsid() itself
	# instead of forking: $! ends up being the server's PID (every step below execs). The lock descriptors are closed
	# so that a long-lived server does not hold our locks.
	(cd "$dir" && exec setsid env "$MARK" "KS_LOCAL_ENV_SVC=$svc" "$@") >>"$logf" 2>&1 </dev/null 8>&- 9>&- &
	pid=$!
	local i p
	for ((i = 0; i < 30; i++)); do
		is_ours "$pid" "$svc" && break
		sleep 0.1
	done
	if ! is_ours "$pid" "$svc"; then
		# setsid forked after all (started from a job-controlled shell): find the session leader by its mark.
		for p in $(marked_pids "$svc"); do
			if [[ $(ps -o sid= -p "$p" | tr -d ' ') == "$p" ]]; then
				pid=$p
				break
			fi
		done
	fi
	printf '%s\n' "$pid" >"$(pid_file "$svc")"
	log "started $svc (pid $pid, log $logf)"
}

# stop_svc SERVICE: SIGTERM the service's process group and everything carrying its mark, SIGKILL after
# $STOP_TIMEOUT seconds.
stop_svc() {
	local svc=$1 pid pids deadline
	pid=$(cat "$(pid_file "$svc")" 2>/dev/null || true)
	pids=$(marked_pids "$svc")
	if [[ -z $pids ]]; then
		rm -f "$(pid_file "$svc")"
		return 0
	fi
	log "stopping $svc (pids $(echo "$pids" | tr '\n' ' '| sed 's/ $//'))"
	if [[ -n $pid ]] && is_ours "$pid" "$svc"; then
		kill -TERM -- "-$pid" 2>/dev/null || true
	fi
	# shellcheck disable=SC2086 # word splitting of the PID list is intended
	kill -TERM $pids 2>/dev/null || true
	deadline=$((SECONDS + STOP_TIMEOUT))
	while [[ -n $(marked_pids "$svc") ]] && ((SECONDS < deadline)); do
		sleep 0.5
	done
	pids=$(marked_pids "$svc")
	if [[ -n $pids ]]; then
		log "$svc did not stop within ${STOP_TIMEOUT}s; sending SIGKILL to $(echo "$pids" | tr '\n' ' ')"
		if [[ -n $pid ]]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while [[ -n $(marked_pids "$svc") ]] && ((SECONDS < deadline)); do
			sleep 0.2
		done
		[[ -z $(marked_pids "$svc") ]] || die "could not stop $svc: pids $(marked_pids "$svc" | tr '\n' ' ') survive SIGKILL"
	fi
	rm -f "$(pid_file "$svc")"
	log "stopped $svc"
}

# ---------------------------------------------------------------------------------------------------------------
# ports and probes

port_listening() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		[[ -n $(ss -Hltn "( sport = :$port )" 2>/dev/null) ]] && return 0
	fi
	# shellcheck disable=SC2016 # $1 belongs to the inner shell
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
}

port_owner() {
	command -v ss >/dev/null 2>&1 || return 0
	ss -Hltnp "( sport = :$1 )" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1 || true
}

# http_status URL: the HTTP status code, or 000 when nothing answers.
http_status() {
	curl_auth -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
}

http_body() {
	curl_auth -s --max-time 5 "$1" 2>/dev/null || true
}

pulsar_broker_ready() { [[ $(http_status "$WEB_URL/admin/v2/clusters") == 200 ]] && port_listening "$BROKER_PORT"; }

pulsar_worker_ready() {
	local body code
	body=$(curl_auth -s --max-time 5 -w '\n%{http_code}' "$WEB_URL/admin/v3/functions/public/default" 2>/dev/null || true)
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	[[ $code == 200 && $body == \[* ]]
}

pulsar_ready() { pulsar_broker_ready && pulsar_worker_ready; }
kinesalite_ready() { [[ $(http_status "http://127.0.0.1:$KINESALITE_PORT/") != 000 ]]; }
moto_ready() { [[ $(http_status "http://127.0.0.1:$MOTO_PORT/moto-api/") == 200 ]]; }

# wait_ready SERVICE TIMEOUT: wait until SERVICE answers; fail early if the process we started died.
wait_ready() {
	local svc=$1 timeout=$2 pid="" start=$SECONDS next_note=$((SECONDS + 30)) logf
	logf=$(log_file "$svc")
	if ! [[ $svc == pulsar && $EXTERNAL_PULSAR == 1 ]]; then
		pid=$(cat "$(pid_file "$svc")" 2>/dev/null || true)
	fi
	while ! "${svc}_ready"; do
		if [[ -n $pid ]] && ! is_ours "$pid" "$svc"; then
			tail -n 40 "$logf" >&2 2>/dev/null || true
			die "$svc (pid $pid) exited during start-up; see its log: $logf"
		fi
		if ((SECONDS - start >= timeout)); then
			local what=""
			if [[ $svc == pulsar ]]; then
				if pulsar_broker_ready; then
					what=" (broker answers, functions worker at $WEB_URL/admin/v3/functions/public/default does not yet)"
				else
					what=" (broker at $WEB_URL/admin/v2/clusters does not answer)"
				fi
			fi
			if [[ -z $pid ]]; then
				die "external Pulsar did not answer within ${timeout}s$what (KS_EXTERNAL_PULSAR=1: start it yourself)"
			fi
			tail -n 40 "$logf" >&2 2>/dev/null || true
			die "$svc did not become ready within ${timeout}s$what; see its log: $logf"
		fi
		if ((SECONDS >= next_note)); then
			log "still waiting for $svc ($((SECONDS - start))s)..."
			next_note=$((SECONDS + 30))
		fi
		sleep 1
	done
	log "$svc is ready ($((SECONDS - start))s)"
}

# ---------------------------------------------------------------------------------------------------------------
# installs (under a lock on the cache: copies sharing it may run `up` at the same time)

with_cache_lock() {
	mkdir -p "$CACHE_DIR"
	(
		flock 9
		"$@"
	) 9>"$CACHE_DIR/.install.lock"
}

install_pulsar() {
	if ((PULSAR_MAJOR >= 5)); then
		install_pulsar_assembled
	else
		install_pulsar_distribution "$PULSAR_VERSION" "$PULSAR_INSTALL"
	fi
}

# install_pulsar_distribution VERSION DIR: the server distribution of VERSION from Maven Central, unpacked into DIR.
install_pulsar_distribution() {
	local version=$1 install=$2
	local marker="$install/.ks-installed" dl="$CACHE_DIR/downloads"
	[[ -f $marker ]] && return 0
	command -v mvn >/dev/null 2>&1 || die "mvn not found: Maven is needed to fetch Pulsar $version"
	command -v java >/dev/null 2>&1 || die "java not found: Pulsar $version needs Java 17+"
	local tarball="$dl/pulsar-server-distribution-$version-bin.tar.gz"
	if [[ ! -s $tarball ]]; then
		log "fetching org.apache.pulsar:pulsar-server-distribution:$version:tar.gz:bin with Maven (~245 MB)"
		mkdir -p "$dl"
		local mvn_log="$dl/maven.log"
		# Maven 3.8 prints colour codes even in batch mode, so its output is shown only when it fails.
		# shellcheck disable=SC2086 # KS_MAVEN_ARGS is a list of arguments
		if ! mvn -B -C -Dstyle.color=never ${KS_MAVEN_ARGS:-} \
			org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
			"-Dartifact=org.apache.pulsar:pulsar-server-distribution:$version:tar.gz:bin" \
			"-DoutputDirectory=$dl" >"$mvn_log" 2>&1; then
			tail -n 40 "$mvn_log" >&2
			die "Maven could not fetch the Pulsar distribution; full output: $mvn_log"
		fi
		[[ -s $tarball ]] || die "Maven finished but $tarball is missing"
	fi
	log "unpacking Pulsar $version into $CACHE_DIR/pulsar"
	local tmp
	mkdir -p "$CACHE_DIR/pulsar"
	tmp=$(mktemp -d "$CACHE_DIR/pulsar/.unpack.XXXXXX")
	tar -xzf "$tarball" -C "$tmp" || {
		rm -rf "$tmp"
		die "could not unpack $tarball (delete it to download it again)"
	}
	rm -rf "$install"
	mv "$tmp/apache-pulsar-$version" "$install"
	rm -rf "$tmp"
	touch "$marker"
}

# install_pulsar_assembled: a standalone of a line whose distribution Maven Central does not serve (5.x): its
# broker, functions worker and client tools with their dependencies (scripts/pulsar-assembly/pom.xml) in lib/, and
# the scripts and configuration of the $PULSAR_BASE_VERSION distribution, adjusted where the newer line differs.
install_pulsar_assembled() {
	local marker="$PULSAR_INSTALL/.ks-installed" base="$CACHE_DIR/pulsar/apache-pulsar-$PULSAR_BASE_VERSION"
	[[ -f $marker ]] && return 0
	install_pulsar_distribution "$PULSAR_BASE_VERSION" "$base"
	local tmp mvn_log="$CACHE_DIR/downloads/maven-pulsar-$PULSAR_VERSION.log"
	mkdir -p "$CACHE_DIR/pulsar" "$CACHE_DIR/downloads"
	tmp=$(mktemp -d "$CACHE_DIR/pulsar/.assemble.XXXXXX")
	log "assembling Pulsar $PULSAR_VERSION from its Maven Central jars (scripts/pulsar-assembly/pom.xml)"
	# shellcheck disable=SC2086 # KS_MAVEN_ARGS is a list of arguments
	if ! mvn -B -C -Dstyle.color=never ${KS_MAVEN_ARGS:-} -f "$REPO_ROOT/scripts/pulsar-assembly/pom.xml" \
		"-Dpulsar.version=$PULSAR_VERSION" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime "-DoutputDirectory=$tmp/lib" >"$mvn_log" 2>&1; then
		tail -n 40 "$mvn_log" >&2
		rm -rf "$tmp"
		die "Maven could not fetch Pulsar $PULSAR_VERSION's jars; full output: $mvn_log"
	fi
	cp -R "$base/bin" "$base/conf" "$tmp/"
	mkdir -p "$tmp/instances" "$tmp/connectors" "$tmp/functions"
	pulsar_adjust_conf "$tmp/conf"
	rm -rf "$PULSAR_INSTALL"
	mv "$tmp" "$PULSAR_INSTALL"
	touch "$marker"
}

# pulsar_adjust_conf DIR: what the $PULSAR_BASE_VERSION configuration needs to run an assembled newer line.
pulsar_adjust_conf() {
	local conf=$1
	# An empty proxyProtocol= makes 5.x's pulsar-admin refuse to start (it parses the value as an enum).
	sed -i -E '/^proxyProtocol=$/d' "$conf/client.conf"
	# The log configuration names a Prometheus appender (log-event counters) that 5.x no longer ships; log4j then
	# drops the whole Appenders element and the broker logs nothing. The appender and its reference go.
	awk '
		/^    Prometheus:$/ { skip = 1; next }
		skip && /^      / { next }
		{ skip = 0 }
		/^        - ref: Prometheus$/ { getline; next }
		{ print }' "$conf/log4j2.yaml" >"$conf/log4j2.yaml.tmp" && mv "$conf/log4j2.yaml.tmp" "$conf/log4j2.yaml"
	! grep -q Prometheus "$conf/log4j2.yaml" || die "could not take the Prometheus appender out of $conf/log4j2.yaml"
}

install_kinesalite() {
	local pkg="$KINESALITE_PREFIX/node_modules/kinesalite/package.json"
	if [[ -f $pkg ]] && [[ $(node -p "require('$pkg').version" 2>/dev/null) == "$KINESALITE_VERSION" ]]; then
		return 0
	fi
	command -v npm >/dev/null 2>&1 || die "npm not found: Node.js 20 and npm are needed for kinesalite"
	log "installing kinesalite@$KINESALITE_VERSION from npm into $KINESALITE_PREFIX"
	mkdir -p "$KINESALITE_PREFIX"
	npm install --prefix "$KINESALITE_PREFIX" --no-audit --no-fund --loglevel=error \
		"kinesalite@$KINESALITE_VERSION" >&2 || die "npm could not install kinesalite@$KINESALITE_VERSION"
}

install_moto() {
	local marker="$MOTO_VENV/.ks-installed-$MOTO_VERSION"
	[[ -f $marker && -x $MOTO_VENV/bin/moto_server ]] && return 0
	command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: Python 3 is needed for moto (set KS_PYTHON)"
	log "installing moto[server]==$MOTO_VERSION from PyPI into a venv at $MOTO_VENV"
	# A venv cannot be moved after creation, so a half-built one is removed and rebuilt in place.
	rm -rf "$MOTO_VENV"
	"$PYTHON" -m venv "$MOTO_VENV" || die "could not create a venv with $PYTHON (Debian: apt-get install python3-venv)"
	"$MOTO_VENV/bin/pip" install -q --disable-pip-version-check --no-input "moto[server]==$MOTO_VERSION" >&2 ||
		die "pip could not install moto[server]==$MOTO_VERSION"
	touch "$marker"
}

# ---------------------------------------------------------------------------------------------------------------
# Pulsar configuration (a per-state-dir copy; the installation in the cache stays pristine and shareable)

# set_prop FILE KEY VALUE: replace every `KEY=` line of a properties file, or append one.
set_prop() {
	local file=$1 key=$2 value=$3 tmp
	tmp="$file.tmp"
	awk -v k="$key" -v v="$value" '
		BEGIN { done = 0 }
		index($0, k "=") == 1 { print k "=" v; done = 1; next }
		{ print }
		END { if (!done) print k "=" v }' "$file" >"$tmp"
	mv "$tmp" "$file"
}

# set_yaml FILE KEY VALUE: replace the value of a `KEY:` line (at any indentation) of a YAML file; it must exist.
set_yaml() {
	local file=$1 key=$2 value=$3 tmp
	tmp="$file.tmp"
	awk -v k="$key" -v v="$value" '
		BEGIN { done = 0 }
		{
			line = $0; sub(/^[ \t]*/, "", line)
			if (index(line, k ":") == 1) {
				match($0, /^[ \t]*/)
				print substr($0, 1, RLENGTH) k ": " v; done = 1; next
			}
			print
		}
		END { if (!done) exit 3 }' "$file" >"$tmp" || die "$file has no '$key:' entry to set"
	mv "$tmp" "$file"
}

# set_or_add_yaml FILE KEY VALUE: set_yaml for a top-level key the distribution's file does not list; added at its end.
set_or_add_yaml() {
	if grep -q "^$2:" "$1"; then
		set_yaml "$@"
	else
		printf '%s: %s\n' "$2" "$3" >>"$1"
	fi
}

pulsar_prepare() {
	local dir conf data
	dir=$(svc_dir pulsar)
	conf="$dir/conf"
	data="$dir/data"
	if [[ ${KS_PULSAR_KEEP_DATA:-0} != 1 ]]; then
		rm -rf "$data"
	fi
	rm -rf "$conf"
	mkdir -p "$conf" "$data" "$dir/logs"
	cp -R "$PULSAR_HOME_DIR/conf/." "$conf/"

	local sc="$conf/standalone.conf"
	set_prop "$sc" bindAddress 127.0.0.1
	set_prop "$sc" advertisedAddress 127.0.0.1
	set_prop "$sc" brokerServicePort "$BROKER_PORT"
	set_prop "$sc" webServicePort "$WEB_PORT"
	# The embedded bookie reads this file too. With listeningInterface set it binds to its advertised address
	# (127.0.0.1) instead of every interface, and allowEphemeralPorts makes it honour --bookkeeper-port instead of
	# picking a random port.
	set_prop "$sc" listeningInterface lo
	set_prop "$sc" allowEphemeralPorts true
	# Function packages (filesystem package storage in standalone): keep them per state dir, not in the shared
	# installation, which is the working directory bin/pulsar switches to.
	set_prop "$sc" STORAGE_PATH "$data/packages-storage"

	local fw="$conf/functions_worker.yml"
	# Function instances get these URLs; the defaults (localhost:6650/8080) would point them at whatever Pulsar owns
	# the default ports when this copy runs on other ports.
	set_yaml "$fw" pulsarServiceUrl "pulsar://127.0.0.1:$BROKER_PORT"
	set_yaml "$fw" pulsarWebServiceUrl "$WEB_URL"
	set_yaml "$fw" functionRuntimeFactoryClassName org.apache.pulsar.functions.runtime.process.ProcessRuntimeFactory
	set_yaml "$fw" downloadDirectory "$data/functions-download"
	# The worker and its Java instances unpack every NAR they load here, a new directory for each instance start
	# of a NAR sink (hundreds of MiB apiece for Pulsar's own connectors); the default, /tmp, keeps them for ever.
	set_or_add_yaml "$fw" narExtractionDirectory "$data/nar"
	set_prop "$sc" narExtractionDirectory "$data/nar"
	set_yaml "$fw" logDirectory "$dir/logs/functions"
	set_yaml "$fw" connectorsDirectory "$PULSAR_HOME_DIR/connectors"
	set_yaml "$fw" functionsDirectory "$PULSAR_HOME_DIR/functions"

	if [[ $PULSAR_AUTH == token ]]; then
		pulsar_token_auth "$sc" "$fw"
	fi
	if [[ -n $TLS_PORT ]]; then
		pulsar_tls "$sc"
	fi
}

# pulsar_tls STANDALONE_CONF: pulsar+ssl on $TLS_PORT with a fresh self-signed certificate (no client trusts it
# unless given $TOKEN_DIR/cert.pem).
pulsar_tls() {
	local sc=$1
	command -v openssl >/dev/null 2>&1 || die "openssl not found: needed for KS_PULSAR_TLS_PORT"
	mkdir -p "$TOKEN_DIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$TOKEN_DIR/key.pem" -out "$TOKEN_DIR/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
	set_prop "$sc" brokerServicePortTls "$TLS_PORT"
	set_prop "$sc" tlsCertificateFilePath "$TOKEN_DIR/cert.pem"
	set_prop "$sc" tlsKeyFilePath "$TOKEN_DIR/key.pem"
	set_prop "$sc" tlsTrustCertsFilePath "$TOKEN_DIR/cert.pem"
	log "broker TLS on 127.0.0.1:$TLS_PORT; certificate $TOKEN_DIR/cert.pem"
}

# make_token_key: a fresh 256-bit HMAC key and an HS256 JWT for role "admin" (what `pulsar tokens create-secret-key`
# and `pulsar tokens create --subject admin` make, without starting a JVM for each).
make_token_key() {
	mkdir -p "$TOKEN_DIR"
	chmod 700 "$TOKEN_DIR"
	(
		umask 077
		head -c 32 /dev/urandom >"$TOKEN_DIR/secret.key"
		"$PYTHON" - "$TOKEN_DIR/secret.key" >"$TOKEN_DIR/admin.token" <<'PY'
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
key = open(sys.argv[1], "rb").read()
msg = b64(json.dumps({"alg": "HS256"}).encode()) + b"." + b64(json.dumps({"sub": "admin"}).encode())
print((msg + b"." + b64(hmac.new(key, msg, hashlib.sha256).digest())).decode())
PY
	)
}

# pulsar_token_auth STANDALONE_CONF WORKER_YML: token authentication on the broker and its functions worker; their
# internal clients (broker to itself, worker to broker) authenticate as the super-user.
pulsar_token_auth() {
	local sc=$1 fw=$2 tok
	make_token_key
	tok=$(cat "$TOKEN_DIR/admin.token")
	set_prop "$sc" authenticationEnabled true
	set_prop "$sc" authenticationProviders org.apache.pulsar.broker.authentication.AuthenticationProviderToken
	set_prop "$sc" tokenSecretKey "file://$TOKEN_DIR/secret.key"
	set_prop "$sc" superUserRoles admin
	set_prop "$sc" brokerClientAuthenticationPlugin org.apache.pulsar.client.impl.auth.AuthenticationToken
	set_prop "$sc" brokerClientAuthenticationParameters "token:$tok"
	set_yaml "$fw" authenticationEnabled true
	set_yaml "$fw" authenticationProviders "[org.apache.pulsar.broker.authentication.AuthenticationProviderToken]"
	set_yaml "$fw" superUserRoles "[admin]"
	{
		echo "brokerClientAuthenticationEnabled: true"
		echo "brokerClientAuthenticationPlugin: org.apache.pulsar.client.impl.auth.AuthenticationToken"
		echo "brokerClientAuthenticationParameters: token:$tok"
		echo "properties:"
		echo "  tokenSecretKey: file://$TOKEN_DIR/secret.key"
	} >>"$fw"
	log "token authentication on; super-user token in $TOKEN_DIR/admin.token (scripts/local-env.sh env prints it)"
}

# java_major JAVA: the major version of a java binary (17, 21, 25...), or nothing.
java_major() {
	"$1" -version 2>&1 | sed -n -E '1s/.*version "([0-9]+)(\.[^"]*)?".*/\1/p'
}

# pulsar_java_home: the JAVA_HOME the Pulsar line needs, or nothing when the java on the PATH will do. 5.x needs
# Java 21 or later; the machine's default may be 17, so the JDKs under /usr/lib/jvm are looked at too.
pulsar_java_home() {
	local need=17 j
	((PULSAR_MAJOR >= 5)) && need=21
	if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && (($(java_major "$JAVA_HOME/bin/java") >= need)); then
		printf '%s' "$JAVA_HOME"
		return 0
	fi
	if command -v java >/dev/null 2>&1 && (($(java_major java) >= need)); then
		return 0
	fi
	for j in /usr/lib/jvm/*/bin/java; do
		[[ -x $j ]] || continue
		if (($(java_major "$j") >= need)); then
			printf '%s' "${j%/bin/java}"
			return 0
		fi
	done
	die "Pulsar $PULSAR_VERSION needs Java $need or later, and neither JAVA_HOME, the java on the PATH nor /usr/lib/jvm has one"
}

start_pulsar() {
	local dir jh
	dir=$(svc_dir pulsar)
	jh=$(pulsar_java_home)
	pulsar_prepare
	# Function instances inherit the worker's environment. KINESIS_SINK_METRICS_BIND: the sink's metrics server binds
	# loopback only on this machine. The AWS variables point a sink whose config names no endpoint (the example
	# file, as the README deploys it) at kinesalite and moto, with the dummy credentials of `env`.
	spawn pulsar "$dir" \
		env ${jh:+JAVA_HOME="$jh"} KINESIS_SINK_METRICS_BIND=127.0.0.1 \
		AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:$KINESALITE_PORT" \
		AWS_ENDPOINT_URL_CLOUDWATCH="http://127.0.0.1:$MOTO_PORT" \
		AWS_ENDPOINT_URL_STS="http://127.0.0.1:$MOTO_PORT" \
		AWS_ACCESS_KEY_ID=AKIDLOCALENVTEST AWS_SECRET_ACCESS_KEY=local-env-dummy-secret AWS_EC2_METADATA_DISABLED=true \
		PULSAR_MEM="$PULSAR_MEM_FLAGS" \
		PULSAR_LOG_DIR="$dir/logs" \
		PULSAR_STANDALONE_CONF="$dir/conf/standalone.conf" \
		PULSAR_LOG_CONF="$dir/conf/log4j2.yaml" \
		"$PULSAR_HOME_DIR/bin/pulsar" standalone \
		--config "$dir/conf/standalone.conf" \
		--no-stream-storage \
		--advertised-address 127.0.0.1 \
		--bookkeeper-port "$BOOKIE_PORT" \
		--metadata-dir "$dir/data/metadata" \
		--bookkeeper-dir "$dir/data/bookkeeper" \
		--functions-worker-conf "$dir/conf/functions_worker.yml"
}

start_kinesalite() {
	local js
	# The kinesalite CLI has no host option and binds every interface, so the library is started directly. Its request
	# handler throws a client's aborted upload (a test that resets or times out mid-body) out of an event handler,
	# which ended the process and left every later test without Kinesis: that one error is logged and survived.
	js="process.on('uncaughtException', function (e) {
  if (e && (e.code === 'ECONNRESET' || e.message === 'aborted')) { console.error('kinesalite: a client left mid-request (' + e.message + '); going on'); return; }
  console.error(e); process.exit(1);
});
var srv = require('kinesalite')({createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 100});
srv.on('error', function (e) { console.error('kinesalite: ' + e.message); process.exit(1); });
srv.listen($KINESALITE_PORT, '127.0.0.1', function () { console.log('kinesalite $KINESALITE_VERSION listening on 127.0.0.1:$KINESALITE_PORT'); });"
	spawn kinesalite "$(svc_dir kinesalite)" env NODE_PATH="$KINESALITE_PREFIX/node_modules" node -e "$js"
}

# The streams conf/examples/kinesis-sink.yaml writes to, so that the README's deploy example delivers to kinesalite.
EXAMPLE_STREAMS="orders payments"
ensure_example_streams() {
	local name out code created=()
	for name in $EXAMPLE_STREAMS; do
		# kinesalite checks that a request is signed, not the signature.
		out=$(curl -s -w '\n%{http_code}' --max-time 10 -X POST "http://127.0.0.1:$KINESALITE_PORT/" \
			-H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: Kinesis_20131202.CreateStream' \
			-H 'X-Amz-Date: 20260101T000000Z' \
			-H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALENVTEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00' \
			-d "{\"StreamName\":\"$name\",\"ShardCount\":1}") || true
		code=${out##*$'\n'}
		if [[ $code == 200 ]]; then
			created+=("$name")
		elif [[ $code != 400 || $out != *ResourceInUseException* ]]; then
			die "could not create stream $name in kinesalite at 127.0.0.1:$KINESALITE_PORT (HTTP $code: ${out%$'\n'*})"
		fi
	done
	((${#created[@]} == 0)) || log "created the example's streams in kinesalite: ${created[*]}"
}

start_moto() {
	spawn moto "$(svc_dir moto)" "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
}

ensure_default_namespace() {
	local cluster deadline=$((SECONDS + 60))
	# The standalone creates public/default itself shortly after its worker starts; creating the tenant at the same
	# moment would make its start-up fail on "already exists", so give it time first.
	while ((SECONDS < deadline)); do
		[[ $(http_status "$WEB_URL/admin/v2/namespaces/public/default") == 200 ]] && return 0
		sleep 1
	done
	cluster=$(http_body "$WEB_URL/admin/v2/clusters" | tr -d '[]" ' | cut -d, -f1)
	[[ -n $cluster ]] || die "Pulsar at $WEB_URL lists no cluster; cannot create namespace public/default"
	if [[ $(http_status "$WEB_URL/admin/v2/tenants/public") != 200 ]]; then
		curl_auth -sf --max-time 10 -X PUT -H 'Content-Type: application/json' \
			-d "{\"adminRoles\":[],\"allowedClusters\":[\"$cluster\"]}" "$WEB_URL/admin/v2/tenants/public" >/dev/null ||
			die "could not create tenant public at $WEB_URL"
	fi
	curl_auth -sf --max-time 10 -X PUT "$WEB_URL/admin/v2/namespaces/public/default" >/dev/null ||
		die "could not create namespace public/default at $WEB_URL"
	log "created namespace public/default"
}

# ---------------------------------------------------------------------------------------------------------------
# commands

selected_services() {
	if (($# == 0)); then
		printf '%s\n' "${ALL_SERVICES[@]}"
		return
	fi
	local s
	for s in "$@"; do
		case $s in
		pulsar | kinesalite | moto) printf '%s\n' "$s" ;;
		*) die "unknown service '$s'; allowed: pulsar, kinesalite, moto" ;;
		esac
	done
}

write_config() {
	mkdir -p "$STATE_DIR"
	{
		echo "KS_PULSAR_BROKER_PORT=$BROKER_PORT"
		echo "KS_PULSAR_WEB_PORT=$WEB_PORT"
		echo "KS_PULSAR_BOOKIE_PORT=$BOOKIE_PORT"
		echo "KS_KINESALITE_PORT=$KINESALITE_PORT"
		echo "KS_MOTO_PORT=$MOTO_PORT"
		echo "KS_EXTERNAL_PULSAR=$EXTERNAL_PULSAR"
		echo "KS_MOTO_VERSION=$MOTO_VERSION"
		echo "KS_PULSAR_AUTH=$PULSAR_AUTH"
		echo "KS_PULSAR_TLS_PORT=$TLS_PORT"
		echo "KS_PULSAR_VERSION=$PULSAR_VERSION"
		echo "PULSAR_HOME=$PULSAR_HOME_DIR"
	} >"$CONFIG_FILE"
}

with_state_lock() {
	mkdir -p "$STATE_DIR"
	(
		flock -w 900 8 || die "another local-env.sh holds $STATE_DIR/.lock"
		"$@"
	) 8>"$STATE_DIR/.lock"
}

do_up() {
	local svc pid port errors=() to_start=() rec s t0=$SECONDS
	for svc in $(selected_services "$@"); do
		if [[ $svc == pulsar && $EXTERNAL_PULSAR == 1 ]]; then
			continue
		fi
		if pid=$(running_pid "$svc"); then
			# Running: its ports must be the ones asked for now.
			for s in $(svc_port_settings "$svc"); do
				rec="rec_$s"
				if [[ -n ${!s:-} && -n ${!rec:-} && ${!s} != "${!rec}" ]]; then
					errors+=("$svc already runs from $STATE_DIR (pid $pid) with $s=${!rec}, but $s=${!s} was asked for; run 'down' first or use another KS_STATE_DIR")
				fi
			done
			log "$svc already running (pid $pid)"
			continue
		fi
		for port in $(svc_ports "$svc"); do
			if port_listening "$port"; then
				local hint=""
				[[ $svc == pulsar ]] && hint="; to use a Pulsar that already runs there set KS_EXTERNAL_PULSAR=1"
				errors+=("port $port (for $svc) is already in use, not by this state dir's local-env.sh ($STATE_DIR) $(port_owner "$port")$hint")
			fi
		done
		to_start+=("$svc")
	done
	if ((${#errors[@]})); then
		for s in "${errors[@]}"; do printf 'local-env: error: %s\n' "$s" >&2; done
		exit 1
	fi
	write_config

	for svc in "${to_start[@]}"; do
		mkdir -p "$(svc_dir "$svc")"
		case $svc in
		pulsar) with_cache_lock install_pulsar ;;
		kinesalite) with_cache_lock install_kinesalite ;;
		moto) with_cache_lock install_moto ;;
		esac
		"start_$svc"
	done
	if [[ $EXTERNAL_PULSAR == 1 ]] && selected_services "$@" | grep -qx pulsar; then
		if [[ ! -x $PULSAR_HOME_DIR/bin/pulsar-admin ]]; then
			[[ $PULSAR_HOME_DIR == "$PULSAR_INSTALL" ]] || die "PULSAR_HOME=$PULSAR_HOME_DIR has no bin/pulsar-admin"
			with_cache_lock install_pulsar
		fi
	fi

	for svc in $(selected_services "$@"); do
		if [[ $svc == pulsar ]]; then
			wait_ready pulsar "$PULSAR_START_TIMEOUT"
			ensure_default_namespace
		else
			wait_ready "$svc" "$START_TIMEOUT"
			[[ $svc != kinesalite ]] || ensure_example_streams
		fi
	done
	log "all services are up ($((SECONDS - t0))s); use them with: eval \"\$(scripts/local-env.sh env)\""
}

do_down() {
	local svc services=()
	mapfile -t services < <(selected_services "$@")
	# Reverse order: the emulators first, Pulsar (slowest to stop) last.
	local i
	for ((i = ${#services[@]} - 1; i >= 0; i--)); do
		svc=${services[i]}
		if [[ $svc == pulsar && $EXTERNAL_PULSAR == 1 ]]; then
			log "pulsar is external (KS_EXTERNAL_PULSAR=1): left running"
			# Function instances belong to the external worker; nothing of ours can be there.
			continue
		fi
		stop_svc "$svc"
	done
	for svc in "${ALL_SERVICES[@]}"; do
		[[ -z $(marked_pids "$svc") ]] || return 0
	done
	rm -f "$CONFIG_FILE"
}

cmd_env() {
	local q
	emit() {
		printf -v q '%q' "$2"
		printf 'export %s=%s\n' "$1" "$q"
	}
	emit PULSAR_HOME "$PULSAR_HOME_DIR"
	emit KS_PULSAR_VERSION "$PULSAR_VERSION"
	local jh
	jh=$(pulsar_java_home)
	# pulsar-admin of the same line needs the same Java.
	[[ -z $jh ]] || emit JAVA_HOME "$jh"
	emit PULSAR_SERVICE_URL "pulsar://127.0.0.1:$BROKER_PORT"
	emit PULSAR_WEB_URL "$WEB_URL"
	emit KINESIS_ENDPOINT "http://127.0.0.1:$KINESALITE_PORT"
	emit AWS_EMULATOR_ENDPOINT "http://127.0.0.1:$MOTO_PORT"
	emit AWS_REGION us-east-1
	emit AWS_DEFAULT_REGION us-east-1
	# Dummy credentials: kinesalite checks only that a signature is present, moto accepts any key.
	emit AWS_ACCESS_KEY_ID AKIDLOCALENVTEST
	emit AWS_SECRET_ACCESS_KEY local-env-dummy-secret
	# Keeps the SDK's default credential chain from probing the EC2 metadata endpoint.
	emit AWS_EC2_METADATA_DISABLED true
	emit KINESIS_SINK_METRICS_BIND 127.0.0.1
	local tok
	if tok=$(admin_token); then
		# The super-user token of a KS_PULSAR_AUTH=token copy (for clients: token:$PULSAR_AUTH_TOKEN).
		emit PULSAR_AUTH_TOKEN "$tok"
	fi
	if [[ -n $TLS_PORT ]]; then
		emit PULSAR_TLS_SERVICE_URL "pulsar+ssl://127.0.0.1:$TLS_PORT"
		emit PULSAR_TLS_CERT "$TOKEN_DIR/cert.pem"
	fi
}

cmd_status() {
	local svc pid state ports
	printf 'state dir %s, cache dir %s\n' "$STATE_DIR" "$CACHE_DIR"
	for svc in $(selected_services "$@"); do
		case $svc in
		pulsar) ports="broker 127.0.0.1:$BROKER_PORT, web $WEB_URL, bookie 127.0.0.1:$BOOKIE_PORT" ;;
		kinesalite) ports="http://127.0.0.1:$KINESALITE_PORT" ;;
		moto) ports="http://127.0.0.1:$MOTO_PORT" ;;
		esac
		if [[ $svc == pulsar && $EXTERNAL_PULSAR == 1 ]]; then
			if pulsar_ready; then state="external, answering"; else state="external, NOT answering"; fi
		elif pid=$(running_pid "$svc"); then
			if "${svc}_ready"; then state="running (pid $pid), answering"; else state="running (pid $pid), not answering yet"; fi
			local extra
			extra=$(marked_pids "$svc" | grep -vx "$pid" | tr '\n' ' ' || true)
			[[ -z $extra ]] || state="$state; child processes: $extra"
		else
			state="stopped"
		fi
		printf '%-11s %s  [%s]  log %s\n' "$svc" "$state" "$ports" "$(log_file "$svc")"
	done
}

# is-up [SERVICE...]: exit status 0 when every named service (default: all) runs, started by `up` from this state
# dir. scripts/lib/with-services.sh uses it to leave a developer's services running.
cmd_is_up() {
	local svc
	for svc in $(selected_services "$@"); do
		running_pid "$svc" >/dev/null || return 1
	done
}

main() {
	(($# >= 1)) || usage
	local cmd=$1
	shift
	selected_services "$@" >/dev/null
	case $cmd in
	up) with_state_lock do_up "$@" ;;
	down) with_state_lock do_down "$@" ;;
	env) cmd_env ;;
	status) cmd_status "$@" ;;
	is-up) cmd_is_up "$@" ;;
	clean)
		with_state_lock do_down
		rm -rf "$STATE_DIR"
		log "removed $STATE_DIR"
		;;
	-h | --help | help) usage ;;
	*)
		printf 'local-env: unknown command %s\n' "$cmd" >&2
		usage
		;;
	esac
}

if [[ $TOPOLOGY == cluster ]]; then
	# shellcheck source=lib/cluster.sh
	. "$REPO_ROOT/scripts/lib/cluster.sh"
fi

main "$@"
