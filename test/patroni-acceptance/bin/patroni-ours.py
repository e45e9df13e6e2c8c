# Installed as patroni.py in a run directory of Patroni's acceptance suite (test/vendor/patroni/features).
# The suite starts `python -m coverage run ... patroni.py <config.yml>`; this replaces that process (same
# PID, so the suite's SIGTERM/SIGKILL/SIGSTOP reach the manager) with `pg-failover manager --config <yml>`.
import os
import sys

node = os.environ.get('PGFAILOVER_NODE', 'node')
cli = os.environ['PGFAILOVER_BIN']
os.execvp(node, [node, cli, 'manager', '--config'] + sys.argv[1:])
