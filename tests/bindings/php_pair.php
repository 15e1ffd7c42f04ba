<?php
// SPDX-License-Identifier: MIT
// PHP's zmq extension (Debian's php-zmq; zmq.so links libzmq, and PHP loads
// it with RTLD_DEEPBIND: src/interpose/deepbind.cpp).  Debian's
// PHP is built without thread safety (NTS) and ships no threading
// extension (no parallel, no pthreads): a PHP program cannot run two
// threads, so it cannot share a socket between threads.  What it can do
// wrong is fork (pcntl) and use the parent's socket in the child.
//   ok      a PUSH/PULL pair used by the one thread PHP has
//   fork    the parent sends, then the child of pcntl_fork() sends on the
//           same socket
//   method  the child sends from a closure that array_map calls in a method
//   generator  as fork, the sockets made in a generator that another one
//           delegates to (yield from)
function send_job($sock) {
    $sock->send("job"); // @send
}

class Worker {
    private $sock;

    function __construct($sock) {
        $this->sock = $sock;
    }

    function run() {
        $job = function ($n) {
            send_job($this->sock); // @closure
        };
        return array_map($job, [1]); // @map
    }
}

function make_socket($ctx, $type) {
    return $ctx->getSocket($type); // @create
}

function sockets($ctx) {
    yield make_socket($ctx, ZMQ::SOCKET_PULL);
    yield make_socket($ctx, ZMQ::SOCKET_PUSH); // @gen-push
}

function delegate($ctx) {
    yield from sockets($ctx);
}

$mode = $argv[1] ?? "ok";
$ctx = new ZMQContext(1);
if ($mode === "generator") {
    [$pull, $push] = iterator_to_array(delegate($ctx), false); // @gen-made
} else {
    $pull = make_socket($ctx, ZMQ::SOCKET_PULL);
    $push = make_socket($ctx, ZMQ::SOCKET_PUSH); // @push-made
}
$pull->bind("inproc://php");
$push->connect("inproc://php");
if ($mode !== "ok") {
    send_job($push); // @parent-send
    $pid = pcntl_fork();
    if ($pid === 0) {
        if ($mode !== "method") {
            send_job($push); // @child-send
        } else {
            (new Worker($push))->run(); // @child-run
        }
        exit(0);
    }
    pcntl_waitpid($pid, $status);
    echo "child status ", pcntl_wexitstatus($status), " signaled ", pcntl_wifsignaled($status) ? pcntl_wtermsig($status) : 0, "\n";
} else {
    send_job($push);
    send_job($push);
    $pull->recv();
    $pull->recv();
}
echo "php done\n";
