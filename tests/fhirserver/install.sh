#!/usr/bin/env bash
# Installs the test FHIR server (Medplum engine + a Node 22 binary from npm) into tests/fhirserver/node_modules.
# Idempotent: a fast no-op when the installed tree matches package-lock.json. The npm cache lives in
# $XDG_CACHE_HOME/b12cds-fhirserver (if set) or tests/fhirserver/.cache, both outside git.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
stamp="node_modules/.b12cds-install-stamp"
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"

installed_ok() {
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
    && [[ -x node_modules/node/bin/node ]] \
    && [[ -d node_modules/@medplum/fhir-router ]]
}

if installed_ok; then
  exit 0
fi

command -v npm >/dev/null || { echo "install.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
cache="${XDG_CACHE_HOME:+$XDG_CACHE_HOME/b12cds-fhirserver}"
cache="${cache:-$here/.cache}/npm"
echo "install.sh: installing the test FHIR server (npm ci, cache $cache)" >&2
npm ci --cache "$cache" --no-audit --no-fund --loglevel=error >&2
version="$(node_modules/node/bin/node --version)"
case "$version" in
  v22.*) ;;
  *) echo "install.sh: expected Node 22 from the node package, got '$version'" >&2; exit 1 ;;
esac
echo "$want" > "$stamp"
echo "install.sh: done ($version)" >&2
