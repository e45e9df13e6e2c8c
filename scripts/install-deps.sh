#!/usr/bin/env bash
# Installs what pg-failover needs on Debian/Ubuntu: PostgreSQL server programs,
# etcd, and libpq's headers + a C compiler (the test suite checks our
# connection-string parser against libpq itself). Uses apt when root or via
# sudo; otherwise prints what to install and fails.
set -euo pipefail
pkgs=()
pg_ok=0
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && [ -x "$d/pg_rewind" ] && pg_ok=1; done
command -v initdb >/dev/null 2>&1 && pg_ok=1
[ "$pg_ok" = 1 ] || pkgs+=(postgresql-15)
command -v etcd >/dev/null 2>&1 || pkgs+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || pkgs+=(etcd-client)
[ -f /usr/include/postgresql/libpq-fe.h ] || pkgs+=(libpq-dev)
command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)
command -v psql >/dev/null 2>&1 || pkgs+=(postgresql-client-15)
# Real Patroni, to compare our client and manager with the standard (its etcd3
# DCS needs python3-etcd, which Debian's package pulls in as a dependency).
command -v patroni >/dev/null 2>&1 || pkgs+=(patroni)
/usr/bin/python3 -c 'import etcd' >/dev/null 2>&1 || pkgs+=(python3-etcd)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || pkgs+=(haproxy)
# Patroni's own acceptance suite (behave), run against our manager and real Patroni by `npm test`.
[ -x /usr/bin/behave ] || pkgs+=(python3-behave)
/usr/bin/python3 -c 'import coverage' >/dev/null 2>&1 || pkgs+=(python3-coverage)
# The fault campaign (npm run campaign): network namespaces (iproute2) and real packet loss (nftables).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || pkgs+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || pkgs+=(nftables)
if [ ${#pkgs[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
  echo "pg-failover needs these system packages: ${pkgs[*]}" >&2
  echo "Install them as root: apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
echo "installing system packages: ${pkgs[*]}"
# Debian's packages try to start their default services (a PostgreSQL on 5432,
# an etcd on 2379, a Patroni service); we never use those, so keep them from starting.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
[ "$policy_added" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
