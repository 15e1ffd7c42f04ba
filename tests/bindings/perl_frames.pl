# SPDX-License-Identifier: MIT
# The guard's Perl reader (perl_probe.so, ARGV[0]) called from Perl code the
# way ZMQ::FFI calls libzmq (an FFI::Platypus sub): from nested subs, a
# string eval, an ithread, a closure and a BEGIN block.  Prints each
# place's frames after a line naming it; test_bindings.py checks them.
use strict;
use warnings;
use threads;
use FFI::Platypus 2.00;

# Attached at compile time, and called there first: the reader's first
# read, and its check, are made inside a BEGIN block.
BEGIN {
    FFI::Platypus->new(api => 2, lib => [shift])->attach(zg_test_perl_frames => [] => 'string');
    print "== begin\n", zg_test_perl_frames();  # @begin
}  # @begin-end: Perl calls the block once it is compiled

sub inner { return zg_test_perl_frames() }  # @inner
sub outer { return inner() }  # @outer

print "== main\n", outer();  # @main
print "== eval\n", eval "outer()";  # @eval
print "== thread\n", threads->create(sub { outer() })->join;  # @thread
my @closures = map { my $n = $_; sub { $n . inner() } } 1 .. 2;  # @closure
print "== closure\n", substr($_->(), 1) for @closures;  # @closure-call
print "== done\n";
