#!/usr/bin/env bash
# Runs ckptvault locally without Azure Functions Core Tools: Azurite (data in .azurite/) and the
# app's own function classes on http://127.0.0.1:7071. Prints "ckptvault ready on http://127.0.0.1:PORT"
# when it serves; Ctrl-C or SIGTERM stops both.
#
#   scripts/run-local.sh [--azure-mode] [--port N] [--data DIR] [--forward-to URL] [--admin-key K]
#                        [--function-key K] [--allow-host NAME]... [--poll-ms N]
#
# --azure-mode runs the app as Azure does (docs/local.md#azure-mode): HTTPS everywhere with a
# certificate made at start (printed first: "ckptvault certificate: PATH"; trust it with
# SSL_CERT_FILE=PATH or curl --cacert PATH), Azurite taking bearer tokens, a managed identity
# endpoint, a local Event Grid topic, and the app in its own process with exactly infra/'s app
# settings. Needs openssl too.
#
# Admin routes need the admin key: --admin-key K, else one made at first start and kept in
# DIR/admin-key (owner-only; the log says where). Token routes need a run token (docs/access.md).
#
# Needs Java 17, Maven and Node. CKPT_STORAGE set: that storage is used and no Azurite is started.
# Windows: mvn -Plocal -DskipTests test-compile exec:java -Dexec.args="--port 7071"
set -euo pipefail

cd "$(dirname "$0")/.."

if [ ! -f node_modules/azurite/package.json ]; then
  echo "installing Azurite (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# Build when there is no build yet or a source, the pom or a resource is newer than it. The app
# builds from src/main, the local host (a developer tool, not deployed) from src/local with the tests.
stamp=target/test-classes/dev/ckptvault/local/LocalMain.class
if [ ! -f "$stamp" ] || [ ! -f target/classpath.txt ] \
   || [ -n "$(find src/main src/local pom.xml -newer "$stamp" -type f -print -quit)" ]; then
  echo "building (mvn test-compile)" >&2
  mvn -q -B -DskipTests test-compile >&2
  # The local host needs the provided-scope SPI too, so the classpath covers every scope.
  mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2
  touch "$stamp"
fi

# exec: Java receives Ctrl-C/SIGTERM itself and stops Azurite in its shutdown hook.
exec java ${JAVA_OPTS:-} -Dckptvault.projectDir="$PWD" \
  -cp "target/classes:target/test-classes:$(cat target/classpath.txt)" dev.ckptvault.local.LocalMain "$@"
