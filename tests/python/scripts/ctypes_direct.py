"""libzmq reached through ctypes (dlopen + dlsym): the guard cannot see
these calls and says so once at exit."""
import ctypes

lib = ctypes.CDLL("libzmq.so.5")
lib.zmq_ctx_new.restype = ctypes.c_void_p
lib.zmq_socket.restype = ctypes.c_void_p
lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.zmq_close.argtypes = [ctypes.c_void_p]
lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]

ctx = lib.zmq_ctx_new()
sock = lib.zmq_socket(ctx, 8)  # PAIR
assert sock
lib.zmq_close(sock)
lib.zmq_ctx_term(ctx)
print("ctypes ok")
