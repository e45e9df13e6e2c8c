# Installed as patroni.py in a run directory of Patroni's acceptance suite: the baseline, Debian's Patroni.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
# this file is named patroni.py: keep it from shadowing the patroni package
sys.path = [p for p in sys.path if os.path.abspath(p or '.') != here]
from patroni.__main__ import main  # noqa: E402

# Patroni starts the postmaster through multiprocessing (spawn), which re-imports this file as __mp_main__
if __name__ == '__main__':
    main()
