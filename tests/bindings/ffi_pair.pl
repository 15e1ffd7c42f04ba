# SPDX-License-Identifier: MIT
# Perl's ZMQ::FFI (FFI::Platypus: dlopen + dlsym on libzmq) with ithreads.
#   shared  main sends on a PAIR (it owns it), then a thread sends on the
#           same socket: ithreads clone the socket object, and the clone
#           holds the same libzmq socket
#   ok      each thread its own socket on one context (thread-safe)
use strict;
use warnings;
use threads;
use ZMQ::FFI;
use ZMQ::FFI::Constants qw(ZMQ_PAIR ZMQ_PUSH ZMQ_PULL);

my $mode = shift // 'ok';
my $ctx = ZMQ::FFI->new();

sub send_job {
    my ($sock) = @_;
    $sock->send('job');  # @send
}

if ($mode eq 'shared') {
    my $tx = $ctx->socket(ZMQ_PAIR);  # @create
    my $rx = $ctx->socket(ZMQ_PAIR);
    $tx->bind('inproc://perl');
    $rx->connect('inproc://perl');
    send_job($tx);  # @main-send
    threads->create(sub { send_job($tx) })->join;  # @thread
    $rx->recv for 1 .. 2;
    $_->close for $tx, $rx;
} else {
    my $pull = $ctx->socket(ZMQ_PULL);
    $pull->bind('inproc://perl');
    my @workers = map {
        threads->create(sub {
            my $push = $ctx->socket(ZMQ_PUSH);
            $push->connect('inproc://perl');
            send_job($push);
            $push->close;
        })
    } 1 .. 2;
    $_->join for @workers;
    $pull->recv for 1 .. 2;
    $pull->close;
}
$ctx->destroy;
print "perl done\n";
