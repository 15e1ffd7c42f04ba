# SPDX-License-Identifier: MIT
# Socket creation from Perl (ZMQ::FFI): COUNT times $ctx->socket(ZMQ_REQ)
# and close, made DEPTH Perl calls deep (a socket's creation records its
# Perl frames, whose cost grows with the stack).  Prints us_per_socket.
#
#   perl bench/pl_sockets.pl [--count=N] [--depth=N]
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC CLOCK_PROCESS_CPUTIME_ID);
use ZMQ::FFI;
use ZMQ::FFI::Constants qw(ZMQ_REQ);

my %arg = (count => 3000, depth => 30);
for (@ARGV) { $arg{$1} = $2 if /^--(\w+)=(\d+)$/ }

sub make_and_close {
    my ($ctx, $count) = @_;
    $ctx->socket(ZMQ_REQ)->close for 1 .. $count;
}

sub at_depth {
    my ($depth, $ctx, $count) = @_;
    no warnings 'recursion';
    $depth <= 0 ? make_and_close($ctx, $count) : at_depth($depth - 1, $ctx, $count);
}

my $ctx = ZMQ::FFI->new();
at_depth($arg{depth}, $ctx, 100);  # warm-up
my ($t0, $c0) = (clock_gettime(CLOCK_MONOTONIC), clock_gettime(CLOCK_PROCESS_CPUTIME_ID));
at_depth($arg{depth}, $ctx, $arg{count});
my ($elapsed, $cpu) = (clock_gettime(CLOCK_MONOTONIC) - $t0, clock_gettime(CLOCK_PROCESS_CPUTIME_ID) - $c0);
$ctx->destroy;
printf("pl_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%d count=%d\n",
       $elapsed / $arg{count} * 1e6, $cpu / $arg{count} * 1e6, $arg{depth}, $arg{count});
