# SPDX-License-Identifier: MIT
"""A Jupyter client, as nbclient or a notebook server is: starts an ipykernel
with its stderr thrown away (a kernel manager's pipe, in real life), runs a
cell that shares a socket between two threads, shuts the kernel down and
exits 0 whatever happened to the kernel."""
import subprocess

from jupyter_client.manager import start_new_kernel

CELL = '''
import threading, zmq
ctx = zmq.Context.instance()
push = ctx.socket(zmq.PUSH); pull = ctx.socket(zmq.PULL)
push.bind("inproc://cell"); pull.connect("inproc://cell")
go = threading.Event()
def worker():
    go.wait(); push.send(b"worker")
t = threading.Thread(target=worker, name="worker"); t.start()
push.send(b"main"); go.set(); t.join()
print(pull.recv(), pull.recv())
'''

try:
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60, stderr=subprocess.DEVNULL)
except RuntimeError as e:  # "Kernel died before replying to kernel_info" (abort mode)
    print("kernel:", e, flush=True)
else:
    try:
        msg_id = kc.execute(CELL)
        # Replies to start-up's kernel_info requests may still be queued.
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        print("cell:", reply["content"]["status"], flush=True)
    except Exception as e:  # the kernel died (abort mode)
        print("cell: no reply (%s), kernel alive: %s" % (type(e).__name__, km.is_alive()), flush=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        del kc, km
print("client exits 0", flush=True)
