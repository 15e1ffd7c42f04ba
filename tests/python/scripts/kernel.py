# SPDX-License-Identifier: MIT
"""A real ipykernel (Debian's 6.17), started by jupyter_client as a
notebook server starts it, runs one cell and shuts down.  Its IOPub thread
takes the PULL socket main set up (ordered by the thread's creation)."""
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name="python3")
reply = kc.execute_interactive("print(6 * 7)", timeout=60)
print("status", reply["content"]["status"], flush=True)
kc.stop_channels()
km.shutdown_kernel(now=False)
print("done", flush=True)
