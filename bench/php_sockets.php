<?php
// SPDX-License-Identifier: MIT
// Socket creation from PHP (php-zmq): COUNT times $ctx->getSocket(ZMQ::SOCKET_REQ)
// and close (unset: php-zmq closes a socket that is not persistent when
// its object goes), made DEPTH PHP calls deep (a socket's creation records
// its PHP backtrace, whose cost grows with the stack).  Prints us_per_socket.
//
//   php bench/php_sockets.php [--count=N] [--depth=N]
function arg($name, $default) {
    global $argv;
    foreach (array_slice($argv, 1) as $a) {
        if (str_starts_with($a, "--$name=")) return intval(substr($a, strlen($name) + 3));
    }
    return $default;
}

function make_and_close($ctx, $count) {
    for ($i = 0; $i < $count; $i++) {
        $s = $ctx->getSocket(ZMQ::SOCKET_REQ);
        unset($s);
    }
}

function at_depth($depth, $ctx, $count) {
    return $depth <= 0 ? make_and_close($ctx, $count) : at_depth($depth - 1, $ctx, $count);
}

$count = arg("count", 3000);
$depth = arg("depth", 30);
$ctx = new ZMQContext(1, false);
// libzmq's reaper closes a socket's descriptors later: past the default
// 1,023 sockets a fast loop would find the context full.
$ctx->setOpt(ZMQ::CTXOPT_MAX_SOCKETS, 60000);
at_depth($depth, $ctx, 100); // warm-up
$t0 = hrtime(true);
$c0 = getrusage();
at_depth($depth, $ctx, $count);
$elapsed = (hrtime(true) - $t0) / 1e9;
$c1 = getrusage();
$cpu = ($c1["ru_utime.tv_sec"] + $c1["ru_stime.tv_sec"] - $c0["ru_utime.tv_sec"] - $c0["ru_stime.tv_sec"]) +
       ($c1["ru_utime.tv_usec"] + $c1["ru_stime.tv_usec"] - $c0["ru_utime.tv_usec"] - $c0["ru_stime.tv_usec"]) / 1e6;
printf("php_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%d count=%d\n",
       $elapsed / $count * 1e6, $cpu / $count * 1e6, $depth, $count);
