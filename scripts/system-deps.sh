#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests run for real: Prometheus (and its promtool) and
# Alertmanager, Chromium for the built-in page's browser tests (driven by playwright-core, no
# browser download), and PostgreSQL (the tests start their own server in a temp dir). Skips what is already there; needs root (or sudo) to install.
set -euo pipefail
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# PostgreSQL's server binaries (initdb, postgres), for the PostgreSQL ledger's tests.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "tokenmeter: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start services of their own; the tests run their own instances on other ports.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter postgresql; do
  $sudo systemctl stop "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
done
