// SPDX-License-Identifier: MIT
// Socket creation from Java (jzmq): COUNT times ctx.socket(ZMQ.REQ) and
// close, made DEPTH Java calls deep (a socket's creation records its Java
// stack, whose cost grows with the stack).  Prints us_per_socket.  In
// batches of 250, each in a context of its own that is terminated after it
// (not timed): the JIT makes the loop faster than libzmq's reaper frees the
// closed sockets' descriptors, and 1,024 run out.
//
//   javac -cp /usr/share/java/zmq.jar -d OUT bench/JvSockets.java
//   java -cp /usr/share/java/zmq.jar:OUT JvSockets [--count=N] [--depth=N]
import java.lang.management.ManagementFactory;
import org.zeromq.ZMQ;

public class JvSockets {
    static int arg(String[] args, String name, int dflt) {
        for (String a : args)
            if (a.startsWith("--" + name + "=")) return Integer.parseInt(a.substring(name.length() + 3));
        return dflt;
    }

    static void makeAndClose(ZMQ.Context ctx, int count) {
        for (int i = 0; i < count; i++) ctx.socket(ZMQ.REQ).close();
    }

    static void atDepth(int depth, ZMQ.Context ctx, int count) {
        if (depth <= 0) makeAndClose(ctx, count);
        else atDepth(depth - 1, ctx, count);
    }

    // The creating thread's own CPU time (libzmq's reaper and I/O thread
    // do the same work with the guard or without).
    static long cpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    static final int BATCH = 250;

    // Times count sockets, BATCH at a time: {elapsed, cpu} nanoseconds.
    static long[] timed(int depth, int count) {
        long[] t = new long[2];
        for (int done = 0; done < count; done += BATCH) {
            ZMQ.Context ctx = ZMQ.context(1);
            long t0 = System.nanoTime(), c0 = cpuNanos();
            atDepth(depth, ctx, Math.min(BATCH, count - done));
            t[0] += System.nanoTime() - t0;
            t[1] += cpuNanos() - c0;
            ctx.term();
        }
        return t;
    }

    public static void main(String[] args) {
        int count = arg(args, "count", 3000);
        int depth = arg(args, "depth", 30);
        timed(depth, 3000); // warm-up: the JIT compiles the loop
        long[] t = timed(depth, count);
        System.out.printf("jv_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%d count=%d%n",
                          t[0] / 1e3 / count, t[1] / 1e3 / count, depth, count);
    }
}
