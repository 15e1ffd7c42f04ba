// SPDX-License-Identifier: MIT
// The guard's Perl reader alone, for perl_frames.pl to call through
// FFI::Platypus as ZMQ::FFI calls libzmq: the calling thread's frames as
// report/perl.h records them, made text ("file\tline\tfunction" lines).
#include <stdlib.h>
#include <string.h>

#include "report/perl.h"

extern "C" __attribute__((visibility("default"))) const char* zg_test_perl_frames() {
  static thread_local char buf[16384];
  void* rec = zg::perl_record();
  char* text = zg::perl_text(rec);
  zg::perl_free_record(rec);
  strncpy(buf, text ? text : "", sizeof buf - 1);
  free(text);
  return buf;
}
