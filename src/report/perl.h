// SPDX-License-Identifier: MIT
// Perl frames (ZMQ::FFI through FFI::Platypus, or any XS code reaching
// libzmq) without Perl's headers: libperl's exported API is looked up in
// the process once Perl is loaded, and the few fields it does not export
// are read by the layout of the one Perl build the guard knows (Perl 5.36,
// threaded: report/perl_layout.h), checked at the first read against
// Perl's own functions.  doc/bindings.md ("Perl") says what is read and
// why nothing of it can run Perl code.
#pragma once

namespace zg {

// True when Perl is loaded, is the build whose layout the guard knows, and
// the option perl is on.  Cheap when Perl is absent (a look again only
// when the set of loaded objects has grown).
bool perl_running();

// The calling thread's Perl frames (its own interpreter's, from
// Perl_get_context), recorded cheaply for a later report, or null when the
// thread runs no Perl or the layout was not confirmed.  perl_text makes
// the text: frame lines "file\tline\tfunction", most recent call first
// (malloc'd, or null); it reads nothing of Perl's.
void* perl_record();
char* perl_text(const void* rec);
void perl_free_record(void* rec);

// In a forked child: the locks another thread may have held, fresh.
void perl_after_fork_child();

}  // namespace zg
