# shellcheck shell=bash
# A local multi-node Pulsar cluster for scripts/local-env.sh (sourced by it when KS_TOPOLOGY=cluster; it replaces the
# standalone's start, stop, readiness and status for the "pulsar" service and leaves kinesalite and moto as they are).
#
# Shape (docs/cluster.md says why): one ZooKeeper (metadata and configuration store), two bookies, two brokers each
# running the functions worker embedded (functionsWorkerEnabled=true), so the worker cluster has two members; the
# process runtime, as on the standalone. Every process is a separate JVM from the same distribution
# ($PULSAR_HOME_DIR), with its own configuration copied under $STATE_DIR/<component>/conf, bound to 127.0.0.1.
#
# Ports (defaults chosen to stay clear of the standalone's and CI's):
#   zookeeper   client KS_CLUSTER_ZK_PORT (22181), Prometheus metrics +1 (22182); admin server off
#   bookie-1/2  KS_PULSAR_BOOKIE_PORT (23181) and +1; admin HTTP KS_CLUSTER_BOOKIE_HTTP_PORT (23801) and +1 (readiness;
#               it also serves the bookie's Prometheus /metrics, so the stats provider opens no port of its own)
#   broker-1/2  binary KS_PULSAR_BROKER_PORT (26650) and +1; web/admin and functions worker KS_PULSAR_WEB_PORT (28080)
#               and +1
# JVM sizes: KS_CLUSTER_ZK_MEM, KS_CLUSTER_BOOKIE_MEM, KS_CLUSTER_BROKER_MEM.

readonly CLUSTER_NAME=ks-cluster
readonly CLUSTER_COMPONENTS=(zookeeper bookie-1 bookie-2 broker-1 broker-2)

ZK_PORT=$(setting KS_CLUSTER_ZK_PORT 22181)
BOOKIE_HTTP_PORT=$(setting KS_CLUSTER_BOOKIE_HTTP_PORT 23801)
for v in ZK_PORT BOOKIE_HTTP_PORT; do
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 65534)); then
		die "port $v=${!v} is not a TCP port; allowed: 1-65534 (the next one is used too)"
	fi
done
[[ $EXTERNAL_PULSAR == 0 ]] || die "KS_TOPOLOGY=cluster starts its own cluster; KS_EXTERNAL_PULSAR=1 is not supported with it"
[[ $PULSAR_AUTH == none ]] || die "KS_TOPOLOGY=cluster has no authentication; KS_PULSAR_AUTH=$PULSAR_AUTH is not supported with it"
[[ -z $TLS_PORT ]] || die "KS_TOPOLOGY=cluster has no TLS; unset KS_PULSAR_TLS_PORT"

ZK_MEM=${KS_CLUSTER_ZK_MEM:-"-Xms64m -Xmx128m"}
BOOKIE_MEM_FLAGS=${KS_CLUSTER_BOOKIE_MEM:-"-Xms128m -Xmx256m -XX:MaxDirectMemorySize=256m"}
BROKER_MEM_FLAGS=${KS_CLUSTER_BROKER_MEM:-"-Xms256m -Xmx512m -XX:MaxDirectMemorySize=512m"}
ZK_URL="zk:127.0.0.1:$ZK_PORT"

# broker_port N, web_port N, bookie_port N, bookie_http_port N (N = 1 or 2)
broker_port() { echo $((BROKER_PORT + $1 - 1)); }
web_port() { echo $((WEB_PORT + $1 - 1)); }
bookie_port() { echo $((BOOKIE_PORT + $1 - 1)); }
bookie_http_port() { echo $((BOOKIE_HTTP_PORT + $1 - 1)); }
web_urls() { echo "http://127.0.0.1:$(web_port 1),http://127.0.0.1:$(web_port 2)"; }
service_urls() { echo "pulsar://127.0.0.1:$(broker_port 1),127.0.0.1:$(broker_port 2)"; }
# The id the embedded worker takes (PulsarService: "c-<cluster>-fw-<advertised address>-<web port>").
worker_id() { echo "c-$CLUSTER_NAME-fw-127.0.0.1-$(web_port "$1")"; }

for _n in 1 2; do
	for _p in "$(broker_port $_n)" "$(web_port $_n)" "$(bookie_port $_n)" "$(bookie_http_port $_n)"; do
		((_p <= 65535)) || die "port $_p (derived from the cluster's base ports) is above 65535"
	done
done
unset _n _p

# The standalone's functions of the same names are kept under standalone_* and dispatched to for other services.
eval "standalone_$(declare -f svc_ports)"
eval "standalone_$(declare -f running_pid)"
eval "standalone_$(declare -f marked_pids)"
eval "standalone_$(declare -f stop_svc)"
eval "standalone_$(declare -f write_config)"
eval "standalone_$(declare -f cmd_env)"

# The ports `up` will bind: those of the components not running (a broker lost by a test is started again alone).
svc_ports() {
	if [[ $1 != pulsar ]]; then
		standalone_svc_ports "$1"
		return
	fi
	standalone_running_pid zookeeper >/dev/null || echo "$ZK_PORT $((ZK_PORT + 1))"
	local n
	for n in 1 2; do
		standalone_running_pid "bookie-$n" >/dev/null || echo "$(bookie_port "$n") $(bookie_http_port "$n")"
	done
	for n in 1 2; do
		standalone_running_pid "broker-$n" >/dev/null || echo "$(broker_port "$n") $(web_port "$n")"
	done
}

svc_port_settings() {
	case $1 in
	pulsar) echo "KS_PULSAR_BROKER_PORT KS_PULSAR_WEB_PORT KS_PULSAR_BOOKIE_PORT KS_CLUSTER_ZK_PORT KS_CLUSTER_BOOKIE_HTTP_PORT" ;;
	kinesalite) echo KS_KINESALITE_PORT ;;
	moto) echo KS_MOTO_PORT ;;
	esac
}

# The cluster counts as running when every one of its processes does; broker-1's pid stands for it.
running_pid() {
	if [[ $1 != pulsar ]]; then
		standalone_running_pid "$1"
		return
	fi
	local c
	for c in "${CLUSTER_COMPONENTS[@]}"; do
		standalone_running_pid "$c" >/dev/null || return 1
	done
	standalone_running_pid broker-1
}

# Every process of the cluster: the five servers, the function instances the brokers' workers spawned (they inherit
# their broker's mark), and a metadata initialisation under way.
marked_pids() {
	if [[ $1 != pulsar ]]; then
		standalone_marked_pids "$1"
		return
	fi
	local c
	for c in "${CLUSTER_COMPONENTS[@]}" cluster-init; do
		standalone_marked_pids "$c"
	done
}

# Brokers first (their workers' instances go with them), then the bookies they write to, then the metadata store;
# each pair in parallel, as stopping a broker can take its whole shutdown timeout.
stop_svc() {
	if [[ $1 != pulsar ]]; then
		standalone_stop_svc "$1"
		return
	fi
	local group c pids rc=0
	for group in "broker-1 broker-2" "bookie-1 bookie-2" "zookeeper cluster-init"; do
		pids=()
		for c in $group; do
			standalone_stop_svc "$c" &
			pids+=($!)
		done
		for c in "${pids[@]}"; do wait "$c" || rc=1; done
	done
	((rc == 0)) || die "some of the cluster's processes did not stop: $(marked_pids pulsar | tr '\n' ' ')"
}

write_config() {
	standalone_write_config
	{
		echo "KS_TOPOLOGY=cluster"
		echo "KS_CLUSTER_ZK_PORT=$ZK_PORT"
		echo "KS_CLUSTER_BOOKIE_HTTP_PORT=$BOOKIE_HTTP_PORT"
	} >>"$CONFIG_FILE"
}

# ---------------------------------------------------------------------------------------------------------------
# readiness

zookeeper_ready() { port_listening "$ZK_PORT"; }
bookie_ready() { [[ $(http_status "http://127.0.0.1:$(bookie_http_port "$1")/api/v1/bookie/is_ready") == 200 ]]; }
broker_ready() {
	[[ $(http_status "http://127.0.0.1:$(web_port "$1")/admin/v2/brokers/ready") == 200 ]] && port_listening "$(broker_port "$1")"
}

# worker_members N: the worker ids broker N's worker sees in the worker cluster, sorted, one a line.
worker_members() {
	http_body "http://127.0.0.1:$(web_port "$1")/admin/v2/worker/cluster" |
		grep -o '"workerId":"[^"]*"' | cut -d'"' -f4 | sort || true
}
worker_leader() {
	http_body "http://127.0.0.1:$(web_port "$1")/admin/v2/worker/cluster/leader" | grep -o '"workerId":"[^"]*"' | cut -d'"' -f4 || true
}

# The workers are ready when each broker's worker serves the functions API, both see the same two members and the
# same leader, and that leader is one of them.
workers_ready() {
	local n want leader1 leader2
	want=$(printf '%s\n' "$(worker_id 1)" "$(worker_id 2)" | sort)
	for n in 1 2; do
		worker_serves "$n" || return 1
		[[ $(worker_members "$n") == "$want" ]] || return 1
	done
	leader1=$(worker_leader 1)
	leader2=$(worker_leader 2)
	[[ -n $leader1 && $leader1 == "$leader2" ]] && grep -qxF -- "$leader1" <<<"$want"
}

pulsar_ready() {
	local n
	zookeeper_ready || return 1
	for n in 1 2; do bookie_ready "$n" && broker_ready "$n" || return 1; done
	workers_ready
}

# cluster_wait WHAT TIMEOUT CHECK...: poll CHECK until it succeeds; fail early when a component we started died.
cluster_wait() {
	local what=$1 timeout=$2 start=$SECONDS next_note=$((SECONDS + 30)) c
	shift 2
	while ! "$@"; do
		for c in "${CLUSTER_COMPONENTS[@]}"; do
			[[ -f $(pid_file "$c") ]] || continue
			if ! standalone_running_pid "$c" >/dev/null; then
				tail -n 40 "$(cluster_log "$c")" >&2 2>/dev/null || true
				die "$c exited while waiting for $what; see $(cluster_log "$c") and $(log_file "$c")"
			fi
		done
		if ((SECONDS - start >= timeout)); then
			die "$what not ready within ${timeout}s; logs under $STATE_DIR/*/logs"
		fi
		if ((SECONDS >= next_note)); then
			log "still waiting for $what ($((SECONDS - start))s)..."
			next_note=$((SECONDS + 30))
		fi
		sleep 1
	done
	log "$what ready ($((SECONDS - start))s)"
}

# wait_ready pulsar: each layer in turn, so that a failure names the layer.
eval "standalone_$(declare -f wait_ready)"
wait_ready() {
	if [[ $1 != pulsar ]]; then
		standalone_wait_ready "$@"
		return
	fi
	local timeout=$2 t0=$SECONDS
	cluster_wait "brokers 1 and 2" $((timeout - (SECONDS - t0))) both_brokers_ready
	cluster_wait "the worker cluster (2 members, one leader)" $((timeout - (SECONDS - t0))) workers_ready
	local since=""
	[[ -z ${CLUSTER_T0:-} ]] || since=", $((SECONDS - CLUSTER_T0))s after ZooKeeper was started"
	log "cluster $CLUSTER_NAME is ready ($((SECONDS - t0))s waiting for its brokers and workers$since)"
}
both_brokers_ready() { broker_ready 1 && broker_ready 2; }
both_bookies_ready() { bookie_ready 1 && bookie_ready 2; }

# The main log file log4j writes for a component (the spawn log holds only what reaches stdout/stderr).
cluster_log() {
	case $1 in
	zookeeper) echo "$STATE_DIR/zookeeper/logs/zookeeper.log" ;;
	bookie-*) echo "$STATE_DIR/$1/logs/bookkeeper.log" ;;
	broker-*) echo "$STATE_DIR/$1/logs/pulsar-broker.log" ;;
	esac
}

# ---------------------------------------------------------------------------------------------------------------
# configuration and start

# cluster_conf COMPONENT: a fresh copy of the distribution's conf/ for COMPONENT; prints its path.
cluster_conf() {
	local dir="$STATE_DIR/$1"
	rm -rf "$dir/conf"
	mkdir -p "$dir/conf" "$dir/data" "$dir/logs"
	cp -R "$PULSAR_HOME_DIR/conf/." "$dir/conf/"
	printf '%s' "$dir/conf"
}

# lib_has NAME: the installation's lib/ has a jar whose name contains NAME.
lib_has() { compgen -G "$PULSAR_HOME_DIR/lib/*$1*.jar" >/dev/null; }

# spawn_pulsar COMPONENT MEM COMMAND ARGS...: bin/pulsar COMMAND for COMPONENT with its own conf, logs and memory.
spawn_pulsar() {
	local c=$1 mem=$2 dir="$STATE_DIR/$1" jh
	shift 2
	jh=$(pulsar_java_home)
	# KINESIS_SINK_*_BIND: function instances inherit their broker's environment; the sink's metrics and control
	# servers then bind loopback only.
	spawn "$c" "$dir" env ${jh:+JAVA_HOME="$jh"} \
		KINESIS_SINK_METRICS_BIND=127.0.0.1 KINESIS_SINK_GRPC_BIND=127.0.0.1 \
		PULSAR_MEM="$mem" BOOKIE_MEM="$mem" \
		PULSAR_LOG_DIR="$dir/logs" PULSAR_LOG_CONF="$dir/conf/log4j2.yaml" \
		PULSAR_ZK_CONF="$dir/conf/zookeeper.conf" \
		PULSAR_BOOKKEEPER_CONF="$dir/conf/bookkeeper.conf" \
		PULSAR_BROKER_CONF="$dir/conf/broker.conf" \
		"$PULSAR_HOME_DIR/bin/pulsar" "$@"
}

start_zookeeper() {
	local conf
	conf=$(cluster_conf zookeeper)
	set_prop "$conf/zookeeper.conf" dataDir "$STATE_DIR/zookeeper/data"
	set_prop "$conf/zookeeper.conf" clientPort "$ZK_PORT"
	set_prop "$conf/zookeeper.conf" clientPortAddress 127.0.0.1
	set_prop "$conf/zookeeper.conf" admin.enableServer false
	if lib_has zookeeper-prometheus-metrics; then
		set_prop "$conf/zookeeper.conf" metricsProvider.httpHost 127.0.0.1
		set_prop "$conf/zookeeper.conf" metricsProvider.httpPort $((ZK_PORT + 1))
	else
		# An assembled line (5.x) has no ZooKeeper Prometheus provider jar; naming it makes ZooKeeper exit.
		sed -i '/^metricsProvider\./d' "$conf/zookeeper.conf"
	fi
	spawn_pulsar zookeeper "$ZK_MEM" zookeeper
}

# A new cluster's metadata: the cluster and its brokers' URLs, the public/default namespace, BookKeeper's /ledgers.
init_cluster_metadata() {
	local logf="$STATE_DIR/cluster-init.log" jh
	jh=$(pulsar_java_home)
	log "initialising the metadata of cluster $CLUSTER_NAME in ZooKeeper 127.0.0.1:$ZK_PORT"
	# Marked like the servers, so that `down` during `up` finds it too.
	if ! (cd "$STATE_DIR" && exec env "$MARK" KS_LOCAL_ENV_SVC=cluster-init ${jh:+JAVA_HOME="$jh"} \
		PULSAR_MEM="-Xms64m -Xmx256m" PULSAR_LOG_DIR="$STATE_DIR/zookeeper/logs" \
		"$PULSAR_HOME_DIR/bin/pulsar" initialize-cluster-metadata \
		--cluster "$CLUSTER_NAME" \
		--metadata-store "$ZK_URL" \
		--configuration-metadata-store "$ZK_URL" \
		--web-service-url "$(web_urls)" \
		--broker-service-url "$(service_urls)") >"$logf" 2>&1 </dev/null 8>&- 9>&-; then
		tail -n 40 "$logf" >&2
		die "initialize-cluster-metadata failed; see $logf"
	fi
	touch "$STATE_DIR/zookeeper/data/.ks-initialized"
}

start_bookie() {
	local n=$1 c="bookie-$1" conf bc
	conf=$(cluster_conf "$c")
	bc="$conf/bookkeeper.conf"
	set_prop "$bc" bookiePort "$(bookie_port "$n")"
	set_prop "$bc" advertisedAddress 127.0.0.1
	# With listeningInterface the bookie binds the interface's address (127.0.0.1) only; a bookie on loopback is
	# refused unless allowed.
	set_prop "$bc" listeningInterface lo
	set_prop "$bc" allowLoopback true
	set_prop "$bc" zkServers "127.0.0.1:$ZK_PORT"
	set_prop "$bc" journalDirectory "$STATE_DIR/$c/data/journal"
	set_prop "$bc" ledgerDirectories "$STATE_DIR/$c/data/ledgers"
	set_prop "$bc" httpServerEnabled true
	set_prop "$bc" httpServerHost 127.0.0.1
	set_prop "$bc" httpServerPort "$(bookie_http_port "$n")"
	if ! lib_has prometheus-metrics-provider; then
		# Nor a BookKeeper one: the bookie then runs without statistics rather than failing to load the class.
		set_prop "$bc" enableStatistics false
		sed -i '/^statsProviderClass=/d' "$bc"
	fi
	spawn_pulsar "$c" "$BOOKIE_MEM_FLAGS" bookie
}

start_broker() {
	local n=$1 c="broker-$1" conf b fw dir="$STATE_DIR/broker-$1"
	conf=$(cluster_conf "$c")
	b="$conf/broker.conf"
	set_prop "$b" clusterName "$CLUSTER_NAME"
	set_prop "$b" metadataStoreUrl "$ZK_URL"
	set_prop "$b" configurationMetadataStoreUrl "$ZK_URL"
	set_prop "$b" bindAddress 127.0.0.1
	set_prop "$b" advertisedAddress 127.0.0.1
	set_prop "$b" brokerServicePort "$(broker_port "$n")"
	set_prop "$b" webServicePort "$(web_port "$n")"
	set_prop "$b" functionsWorkerEnabled true
	set_prop "$b" narExtractionDirectory "$dir/data/nar"
	# Two bookies: every entry on both (the distribution's defaults, stated because the test depends on them).
	set_prop "$b" managedLedgerDefaultEnsembleSize 2
	set_prop "$b" managedLedgerDefaultWriteQuorum 2
	set_prop "$b" managedLedgerDefaultAckQuorum 2
	fw="$conf/functions_worker.yml"
	# In a broker the worker takes its id, host, port, cluster and the broker's own URLs from broker.conf
	# (PulsarService.initializeWorkerConfigFromBrokerConfig); what is left is where it keeps files and which runtime
	# it uses. Packages live in BookKeeper (DistributedLog), replicated to both bookies, so either worker can start
	# any instance.
	set_yaml "$fw" functionRuntimeFactoryClassName org.apache.pulsar.functions.runtime.process.ProcessRuntimeFactory
	set_yaml "$fw" numFunctionPackageReplicas 2
	set_yaml "$fw" downloadDirectory "$dir/data/functions-download"
	# Unpacked NARs (one directory per instance start of a NAR sink) stay with the state dir, not in /tmp.
	set_or_add_yaml "$fw" narExtractionDirectory "$dir/data/nar"
	set_yaml "$fw" logDirectory "$dir/logs/functions"
	set_yaml "$fw" connectorsDirectory "$PULSAR_HOME_DIR/connectors"
	set_yaml "$fw" functionsDirectory "$PULSAR_HOME_DIR/functions"
	spawn_pulsar "$c" "$BROKER_MEM_FLAGS" broker --functions-worker-conf "$fw"
}

start_pulsar() {
	local c n
	# A cluster that lost brokers (a test SIGKILLed one) gets them back alone: its metadata and bookies stay.
	if standalone_running_pid zookeeper >/dev/null && standalone_running_pid bookie-1 >/dev/null &&
		standalone_running_pid bookie-2 >/dev/null; then
		for n in 1 2; do
			standalone_running_pid "broker-$n" >/dev/null && continue
			# What the lost broker's worker had spawned is orphaned; it must not hold a port or a consumer on.
			[[ -z $(standalone_marked_pids "broker-$n") ]] || standalone_stop_svc "broker-$n"
			log "restarting broker-$n of the running cluster"
			start_broker "$n"
			cluster_wait "broker-$n's functions worker" 300 worker_serves "$n"
		done
		return 0
	fi
	for c in "${CLUSTER_COMPONENTS[@]}"; do
		if [[ -n $(standalone_marked_pids "$c") ]]; then
			die "$c of the cluster in $STATE_DIR still runs while others do not; run 'KS_TOPOLOGY=cluster $0 down' first"
		fi
	done
	CLUSTER_T0=$SECONDS
	local fresh=1
	if [[ ${KS_PULSAR_KEEP_DATA:-0} == 1 && -f $STATE_DIR/zookeeper/data/.ks-initialized ]]; then
		fresh=0
	else
		for c in "${CLUSTER_COMPONENTS[@]}"; do rm -rf "${STATE_DIR:?}/$c/data"; done
	fi
	start_zookeeper
	cluster_wait "zookeeper" 120 zookeeper_ready
	((fresh == 0)) || init_cluster_metadata
	start_bookie 1
	start_bookie 2
	cluster_wait "bookies 1 and 2" 240 both_bookies_ready
	# Two workers of a new cluster starting at the same moment race to create the coordination topic's subscription,
	# and the loser's start fails ("Failed to fence subscription", HTTP 412, on 4.0.8): the second broker starts once
	# the first one's worker serves.
	start_broker 1
	cluster_wait "broker-1's functions worker" 300 worker_serves 1
	start_broker 2
}
worker_serves() { [[ $(http_status "http://127.0.0.1:$(web_port "$1")/admin/v3/functions/public/default") == 200 ]]; }

# ---------------------------------------------------------------------------------------------------------------
# env and status

cmd_env() {
	standalone_cmd_env
	local q
	printf -v q '%q' "$(web_urls)"
	echo "export PULSAR_CLUSTER_WEB_URLS=$q"
	printf -v q '%q' "$(service_urls)"
	echo "export PULSAR_CLUSTER_SERVICE_URLS=$q"
	echo "export PULSAR_CLUSTER_NAME=$CLUSTER_NAME"
	# The cluster tests find the brokers' pid files here (to SIGKILL one).
	printf -v q '%q' "$STATE_DIR"
	echo "export KS_CLUSTER_STATE_DIR=$q"
	echo "export KS_TOPOLOGY=cluster"
}

cmd_status() {
	local svc pid state c
	printf 'topology cluster (%s), state dir %s, cache dir %s\n' "$CLUSTER_NAME" "$STATE_DIR" "$CACHE_DIR"
	for svc in $(selected_services "$@"); do
		if [[ $svc != pulsar ]]; then
			if pid=$(running_pid "$svc"); then state="running (pid $pid)"; else state=stopped; fi
			printf '%-11s %s  [%s]\n' "$svc" "$state" "$(svc_ports "$svc")"
			continue
		fi
		for c in "${CLUSTER_COMPONENTS[@]}"; do
			if pid=$(standalone_running_pid "$c"); then
				local rss
				rss=$(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status" 2>/dev/null || true)
				state="running (pid $pid, RSS ${rss:-?} MiB)"
				local extra
				extra=$(standalone_marked_pids "$c" | grep -vx "$pid" | tr '\n' ' ' || true)
				[[ -z $extra ]] || state="$state; function instances: $extra"
			else
				state=stopped
			fi
			printf '%-11s %s  log %s\n' "$c" "$state" "$(cluster_log "$c")"
		done
		if workers_ready 2>/dev/null; then
			printf '%-11s members %s; leader %s\n' workers "$(worker_members 1 | tr '\n' ' ')" "$(worker_leader 1)"
		else
			printf '%-11s not ready\n' workers
		fi
	done
}
