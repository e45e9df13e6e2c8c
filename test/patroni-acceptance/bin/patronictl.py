# Installed as patronictl.py in a run directory of Patroni's acceptance suite: Debian's patronictl, the
# same client for both the baseline and our manager.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or '.') != here]
from patroni.ctl import ctl  # noqa: E402

if __name__ == '__main__':
    sys.exit(ctl(prog_name='patronictl'))
