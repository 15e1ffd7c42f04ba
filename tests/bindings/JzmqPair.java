// SPDX-License-Identifier: MIT
// Java's jzmq (Debian's libzmq-java; libjzmq.so links libzmq).
//   shared  main starts a worker, then sends on its PAIR; the worker then
//           sends on the same socket (a CountDownLatch orders them, but it
//           is not an edge the guard sees)
//   ok      the PAIR is made in main and handed to a worker main starts,
//           which alone uses it
//   leak    a PUSH socket made and never closed
//   exit    System.exit while a daemon thread makes sockets and hands each
//           to a new thread
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.zeromq.ZMQ;

public class JzmqPair {
    // A socket never closed: listed at exit (leaks=1), after the VM is gone.
    static void leak() {
        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket sock = ctx.socket(ZMQ.PUSH); // @leak
        sock.bind("inproc://leak");
        System.out.println("java done");
    }

    // System.exit while a daemon thread keeps creating sockets and handing
    // each to a new thread (a legal hand-off, a claim): the guard records
    // Java stacks while the VM exits.
    static void exitWhileRecording() {
        ZMQ.Context ctx = ZMQ.context(1);
        AtomicInteger handed = new AtomicInteger();
        Thread maker = new Thread(() -> {
            byte[] job = "job".getBytes();
            for (;;) {
                ZMQ.Socket sock = ctx.socket(ZMQ.PUSH);
                sock.setLinger(0);
                Thread user = new Thread(() -> sock.send(job, ZMQ.NOBLOCK));
                user.start();
                try {
                    user.join();
                } catch (InterruptedException e) {
                    return;
                }
                sock.close();
                handed.incrementAndGet();
            }
        }, "jzmq-maker");
        maker.setDaemon(true);
        maker.start();
        while (handed.get() < 50) Thread.onSpinWait();
        System.out.println("java done");
        System.exit(0);
    }

    static void sendJob(ZMQ.Socket sock) {
        if (!sock.send("job".getBytes(), 0)) throw new RuntimeException("send"); // @send
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("leak")) {
            leak();
            return;
        }
        if (args.length > 0 && args[0].equals("exit")) {
            exitWhileRecording();
            return;
        }
        boolean shared = args.length > 0 && args[0].equals("shared");
        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket tx = ctx.socket(ZMQ.PAIR); // @create
        ZMQ.Socket rx = ctx.socket(ZMQ.PAIR);
        tx.bind("inproc://jzmq");
        rx.connect("inproc://jzmq");
        CountDownLatch go = new CountDownLatch(1);
        Thread worker = new Thread(() -> {
            try {
                if (shared) go.await();
                sendJob(tx); // @worker-send
                if (!shared) sendJob(tx);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        }, "jzmq-worker");
        worker.start();
        if (shared) {
            sendJob(tx); // @main-send
            go.countDown();
        }
        worker.join();
        rx.recv(0);
        rx.recv(0);
        tx.close();
        rx.close();
        ctx.term();
        System.out.println("java done");
    }
}
