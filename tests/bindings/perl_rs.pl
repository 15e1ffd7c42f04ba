# SPDX-License-Identifier: MIT
# The reader's first read is checked against Perl_mess, which reads $/ as a
# string once a file was read with <FH>.  $/ here is a record size held in
# an object whose "" is overloaded: the reader must not call mess then (the
# overload would run inside the guard), and checks later, once $/ is a
# string again.  perl_probe.so is ARGV[0].
use strict;
use warnings;
use FFI::Platypus 2.00;

package Loud {
    use overload '""' => sub { print "overload ran\n"; "\n" }, '0+' => sub { 8 }, fallback => 1;
}

my $ffi = FFI::Platypus->new(api => 2, lib => [shift]);
$ffi->attach(zg_test_perl_frames => [] => 'string');

sub frames { return zg_test_perl_frames() }  # @frames

open(my $fh, '<', $0) or die;
my $record = 8;
$/ = bless \$record, 'Loud';
my $first = <$fh>;
print "== object\n", frames();  # @object
$/ = "\n";
print "== string\n", frames();  # @string
print "== done\n";
