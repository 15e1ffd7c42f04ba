# SPDX-License-Identifier: MIT
"""A parent that runs a misusing child with its stderr thrown away, ignores
how the child ended, and exits 0: the run's verdict must still say it."""
import subprocess
import sys

child = subprocess.run([sys.executable] + sys.argv[1:], stderr=subprocess.DEVNULL)
print("child ended with", child.returncode)
sys.exit(0)
