// SPDX-License-Identifier: MIT
// What the interposition layer's pieces share about the loaded copies of
// libzmq (resolve.cpp finds them; dlsym.cpp hands out wrappers bound to one;
// wrappers.cpp makes those wrappers).
#pragma once
#include "core/api.h"
#include "core/threads.h"

namespace zg {

// Set while a wrapper handed out by dlsym for one copy runs: real_for_caller
// answers that copy (the FFI caller's own object, libffi, links none).
extern __thread RealTable* tls_bound_copy ZG_TLS;

// Picks up copies loaded since the last look (resolve_init also sets up
// what the first look needs: the fork handler, RTLD_NEXT's table).
void resolve_init();
void resolve_rescan();
// The index of the copy whose code holds `p`, or -1.
int resolve_copy_index(const void* p);
RealTable* resolve_copy(int k);
// True if a loaded copy exports function `id` (a draft may be missing).
bool resolve_any_copy_has(int id);

// The wrappers to hand out for copy `k`, indexed by FnId: the plain
// wrapper where the socket decides the copy, one bound to copy `k` for the
// calls without a socket.  The plain wrappers alone: plain_wrappers().
void* const* bound_wrappers(int k);
void* const* plain_wrappers();

// Points the GOT entries of objects that bind libzmq past the guard
// (loaded with RTLD_DEEPBIND: PHP's extensions) at the wrappers, if
// objects were loaded since the last look (deepbind.cpp).
void deepbind_check();
// At exit: names each object some entry of which still leads past the guard.
void deepbind_exit_notice();
// In a forked child: its lock made fresh (a parent thread may have held it).
void deepbind_after_fork_child();

}  // namespace zg
