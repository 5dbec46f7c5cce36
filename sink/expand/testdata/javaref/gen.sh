#!/usr/bin/env bash
# Regenerates the Java reference outputs in ../golden from ../vectors.jsonl, and
# ../java_behaviour.jsonl (Java's own number formatting, HashMap order, UTF-8 decoding).
# Developer tool (CI does not run it). Needs Java 19+ (Double.toString changed in 19), Maven,
# and a Pulsar binary distribution for the client jars:
#   PULSAR_HOME=/path/to/apache-pulsar-4.0.8 JAVA_HOME=/path/to/jdk21 ./gen.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${PULSAR_HOME:?set PULSAR_HOME to an Apache Pulsar 4.0.x binary distribution}"
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}
m2=${M2_REPO:-$HOME/.m2/repository}
# json-flattener as bundled by pulsar-io-kinesis 4.0.x, and its json-base dependency.
for a in com.github.wnameless.json:json-flattener:0.13.0 com.github.wnameless.json:json-base:2.0.0; do
  mvn -q dependency:get -Dartifact="$a" -Dtransitive=false >/dev/null
done
jars="$m2/com/github/wnameless/json/json-flattener/0.13.0/json-flattener-0.13.0.jar:$m2/com/github/wnameless/json/json-base/2.0.0/json-base-2.0.0.jar"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp="$PULSAR_HOME/lib/*:$jars"
"${java_bin}javac" -nowarn -cp "$cp" -d "$work" "$here/RefEncoder.java" "$here/JavaBehaviour.java"
# Start from a clean slate (our own *.go.json expectations stay).
find "$here/../golden" \( -name '*.java-error' -o \( -name '*.json' ! -name '*.go.json' \) \) -delete
"${java_bin}java" -Dlog4j2.level=OFF -cp "$cp:$work" RefEncoder "$here/../vectors.jsonl" "$here/../golden"
"${java_bin}java" -cp "$cp:$work" JavaBehaviour "$here/../java_behaviour.jsonl"
