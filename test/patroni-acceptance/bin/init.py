# PID 1 of an acceptance run's PID namespace: runs the command, reaps every process that is
# orphaned inside the namespace (a PostgreSQL left running by a node that exited in maintenance
# mode is reparented here; unreaped it would stay a zombie that looks alive), and exits with the
# command's status, which ends everything else in the namespace.
import os
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:])
code = 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == child.pid:
        code = os.waitstatus_to_exitcode(status)
        break
sys.exit(code)
