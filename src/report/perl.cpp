// SPDX-License-Identifier: MIT
#include "report/perl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <initializer_list>

#include "core/options.h"
#include "core/probe.h"
#include "report/frame_record.h"
#include "report/intern.h"
#include "report/late_lookup.h"
#include "report/perl_layout.h"
#include "report/script.h"
#include "report/text.h"

namespace zg {
namespace {

// A PerlInterpreter*, a PERL_CONTEXT*, an SV*, a COP*: bytes at offsets.
using Ptr = const char*;

template <typename T>
T at(Ptr p, int off) {
  T v;
  memcpy(&v, p + off, sizeof v);
  return v;
}

struct Pl {
  LateLookup lookup;
  // The exported API (embed.h's Perl_* with pTHX_ first under MULTIPLICITY).
  void* (*get_context)();
  Ptr (*caller_cx)(void* my_perl, int32_t level, Ptr* dbcxp);
  void* (*cv_name)(void* my_perl, void* cv, void* sv, uint32_t flags);
  void* (*mess)(void* my_perl, const char* pat, ...);
  void* (*new_sv)(void* my_perl, size_t len);
  void (*sv_free2)(void* my_perl, void* sv, uint32_t refcnt);
};
Pl g_pl;

// The layout's check (verify below): 0 not yet made, 1 confirmed, 2 refused.
std::atomic<int> g_trust{0};
std::atomic<int> g_disagreed{0};  // first reads that Perl's mess did not confirm
pthread_mutex_t g_verify_mu = PTHREAD_MUTEX_INITIALIZER;

// Perl 5.36 built with exactly the binary options of report/perl_layout.h
// (a threaded build: PL_thr_key exists).  Any other Perl shows native
// frames only.
bool understood() {
  const auto* revision = static_cast<const unsigned char*>(late_find("PL_revision"));
  const auto* version = static_cast<const unsigned char*>(late_find("PL_version"));
  const auto* options = static_cast<const char*>(late_find("PL_bincompat_options"));  // a char[]
  return revision && version && options && *revision == 5 && *version == 36 &&
         !strncmp(options, ZG_PL_BINCOMPAT, sizeof ZG_PL_BINCOMPAT) && late_find("PL_thr_key");
}

bool lookup() {
  return g_pl.lookup.ensure([] {
    return late_sym(&g_pl.get_context, "Perl_get_context") && late_sym(&g_pl.caller_cx, "Perl_caller_cx") &&
           late_sym(&g_pl.cv_name, "Perl_cv_name") && late_sym(&g_pl.mess, "Perl_mess") &&
           late_sym(&g_pl.new_sv, "Perl_newSV") && late_sym(&g_pl.sv_free2, "Perl_sv_free2") && understood();
  });
}

// --- the layout, checked once against Perl's own functions ---------------
//
// The first time a Perl thread is recorded, everything the record will
// read is read safely (read_memory: a wrong offset is a failed read, not a
// fault) and held against what Perl itself says:
//  - PL_curcop is an op of type nextstate or dbstate, whose file and line
//    are what Perl_mess appends to a message (" at FILE line N."; mess
//    reads PL_curcop with Perl's own layout);
//  - the context Perl_caller_cx gives for level 0 lies in
//    PL_curstackinfo's context stack, with a type caller() accepts, and a
//    sub's blk_sub.cv is a CV (SVt_PVCV).
// Perl_mess allocates one mortal SV and runs no Perl code (below); it is
// made at most kMaxChecks times in a process.

constexpr int kMaxChecks = 3;

template <typename T>
bool peek(Ptr p, int off, T* out) {
  return p && read_memory(reinterpret_cast<unsigned long>(p + off), out, sizeof *out);
}

// A C string of at most size - 1 bytes at p, read safely.
bool peek_string(Ptr p, char* out, size_t size) {
  for (size_t i = 0; p && i + 1 < size; i++) {
    if (!read_memory(reinterpret_cast<unsigned long>(p + i), out + i, 1)) return false;
    if (!out[i]) return true;
  }
  return false;
}

// 1 confirmed, 0 refused, -1 Perl's message did not say the same (an
// optimised-away statement can make it differ: tried again later).
int check(void* my_perl) {
  const auto interp = static_cast<Ptr>(my_perl);
  Ptr cop = nullptr, file_p = nullptr, si = nullptr, cxstack = nullptr;
  uint16_t type = 0;
  uint32_t line = 0;
  int32_t cxix = 0, cxmax = 0;
  char file[512];
  // An interpreter being made or torn down may have no statement or no
  // context stack yet: asked again later.
  if (!peek(interp, ZG_PL_INTERP_CURCOP, &cop) || !peek(interp, ZG_PL_INTERP_CURSTACKINFO, &si)) return 0;
  if (!cop || !si) return -1;
  if (!peek(cop, ZG_PL_OP_TYPE, &type) ||
      !peek(cop, ZG_PL_COP_LINE, &line) || !peek(cop, ZG_PL_COP_FILE, &file_p) || !peek_string(file_p, file, sizeof file))
    return 0;
  // (Between statements of code being compiled PL_curcop is
  // &PL_compiling, no op: asked again later.)
  type &= ZG_PL_OP_TYPE_MASK;
  if (type != ZG_PL_OP_NEXTSTATE && type != ZG_PL_OP_DBSTATE) return -1;
  if (!peek(si, ZG_PL_SI_CXSTACK, &cxstack) ||
      !peek(si, ZG_PL_SI_CXIX, &cxix) || !peek(si, ZG_PL_SI_CXMAX, &cxmax) || cxix > cxmax)
    return 0;
  if (Ptr cx = g_pl.caller_cx(my_perl, 0, nullptr)) {
    uint8_t cxt = 0;
    // (Level 0 may lie in a lower stack level: a sub called from a sort
    // block or a tie; tried again later.)
    if (cx < cxstack || cx > cxstack + ZG_PL_CX_SIZE * cxix || (cx - cxstack) % ZG_PL_CX_SIZE) return -1;
    if (!peek(cx, ZG_PL_CX_TYPE, &cxt)) return 0;
    cxt &= ZG_PL_CXT_MASK;
    if (cxt != ZG_PL_CXT_SUB && cxt != ZG_PL_CXT_FORMAT && cxt != ZG_PL_CXT_EVAL) return 0;
    Ptr cv = nullptr;
    uint32_t flags = 0;
    if (cxt != ZG_PL_CXT_EVAL && (!peek(cx, ZG_PL_CX_SUB_CV, &cv) || !peek(cv, ZG_PL_SV_FLAGS, &flags) ||
                                  (flags & ZG_PL_SVT_MASK) != ZG_PL_SVT_PVCV))
      return 0;
  }
  // " at FILE line N.\n" (or ", <FH> line M.\n" after it): mess reads the
  // statement with Perl's own layout.  For the part after it, once a file
  // was read with <FH>, mess looks at $/ (PL_rs) as a string: if $/ holds
  // a reference (record reads, \4096), that could be an object whose
  // overloaded "" would run; then no check this time.
  Ptr rs = nullptr;
  uint32_t rs_flags = 0;
  if (!peek(interp, ZG_PL_INTERP_RS, &rs) || (rs && !peek(rs, ZG_PL_SV_FLAGS, &rs_flags))) return 0;
  if (rs_flags & ZG_PL_SVF_ROK) return -1;
  Ptr sv = static_cast<Ptr>(g_pl.mess(my_perl, "%s", ""));
  Ptr pv = nullptr;
  char said[600], want[600];
  if (!peek(sv, ZG_PL_SV_PV, &pv) || !peek_string(pv, said, sizeof said)) return 0;
  int n = snprintf(want, sizeof want, " at %s line %u", file, line);
  if (n <= 0 || n >= static_cast<int>(sizeof want)) return 0;
  return strncmp(said, want, size_t(n)) == 0 && (said[n] == '.' || said[n] == ',') ? 1 : -1;
}

bool trusted(void* my_perl) {
  int t = g_trust.load(std::memory_order_acquire);
  if (t != 0) return t == 1;
  // One thread checks; another arriving meanwhile records nothing this
  // time rather than wait.
  if (pthread_mutex_trylock(&g_verify_mu) != 0) return false;
  if (g_trust.load(std::memory_order_relaxed) == 0) {
    int r = check(my_perl);
    if (r == 1) g_trust.store(1, std::memory_order_release);
    if (r == 0 || (r < 0 && g_disagreed.fetch_add(1) + 1 >= kMaxChecks)) g_trust.store(2, std::memory_order_release);
  }
  pthread_mutex_unlock(&g_verify_mu);
  return g_trust.load(std::memory_order_acquire) == 1;
}

// --- stacks recorded cheaply, made text when a report needs them --------
//
// A record is entry numbers and lines.  An entry is a frame's file and
// function, copied the first time they are seen: the file from the COP
// (its cop_file, a string each COP owns), the function from the context's
// CV by Perl_cv_name, keyed by what the name is made of (the CV's GV, or
// its name HEK and stash), so that the closures a program makes by the
// thousand (each a new CV of the same __ANON__ GV) share one entry.  A file
// string freed with its COP (a string eval's) and its address given to
// another is told apart by its text.

struct FrameEntry {
  Ptr file;
  uintptr_t gv, stash;
  uint32_t cv_flags;
  char* text;      // "file" "function": the line goes between
  uint32_t split;  // where the line goes
};

InternTable<FrameEntry, 8192> g_frames;

// What Carp's longest traces show is far less; 100 frames name the
// program's code at any depth.
constexpr int kMaxDepth = 100;

// The function of a context: a sub's name as caller() gives it
// ("main::send_job"), "(eval)", or "(main)" for the program's top level
// (no context).
struct Func {
  Ptr cv = nullptr;
  uintptr_t gv = 0, stash = 0;
  uint32_t cv_flags = 0;
  const char* fixed = nullptr;
};

Func func_of(Ptr cx) {
  Func f;
  if (!cx) {
    f.fixed = "(main)";
    return f;
  }
  const unsigned type = at<uint8_t>(cx, ZG_PL_CX_TYPE) & ZG_PL_CXT_MASK;
  if (type == ZG_PL_CXT_EVAL) {
    f.fixed = "(eval)";
    return f;
  }
  f.cv = at<Ptr>(cx, ZG_PL_CX_SUB_CV);
  Ptr body = f.cv ? at<Ptr>(f.cv, ZG_PL_SV_ANY) : nullptr;
  if (!body) {
    f.fixed = "(unknown)";
    return f;
  }
  f.gv = at<uintptr_t>(body, ZG_PL_CV_GV);
  f.stash = at<uintptr_t>(body, ZG_PL_CV_STASH);
  f.cv_flags = at<uint32_t>(body, ZG_PL_CV_FLAGS);
  return f;
}

// The name Perl_cv_name gives, into t (one new SV, freed at once: a plain
// string, so freeing it runs nothing).
void put_name(TextBuf& t, void* my_perl, const Func& f) {
  if (f.fixed) {
    t.puts(f.fixed);
    return;
  }
  void* sv = g_pl.new_sv(my_perl, 0);
  if (!sv) return;
  g_pl.cv_name(my_perl, const_cast<char*>(f.cv), sv, 0);
  if (Ptr pv = at<Ptr>(static_cast<Ptr>(sv), ZG_PL_SV_PV)) t.add(pv, strnlen(pv, 255));
  g_pl.sv_free2(my_perl, sv, 1);
}

// A file name, a tab or newline made '?' (they separate the text's fields).
void put_file(TextBuf& t, Ptr file) {
  const size_t at0 = t.n, n = file ? strnlen(file, 400) : 0;
  if (n) t.add(file, n);
  else t.add("?", 1);
  for (char* c = t.p ? t.p + at0 : nullptr; c && c < t.p + t.n; c++)
    if (*c == '\t' || *c == '\n') *c = '?';
}

bool same_file(const FrameEntry& e, Ptr file) {
  return e.file == file && file && !strncmp(e.text, file, e.split) && file[e.split] == 0;
}

int entry_of(void* my_perl, Ptr file, const Func& f) {
  const uintptr_t gv = f.fixed ? reinterpret_cast<uintptr_t>(f.fixed) : f.gv;
  return g_frames.intern(
      reinterpret_cast<uintptr_t>(file) ^ gv,
      [&](const FrameEntry& e) {
        return e.gv == gv && e.stash == f.stash && e.cv_flags == f.cv_flags && same_file(e, file);
      },
      [&](FrameEntry* e) {
        TextBuf b;
        put_file(b, file);
        const uint32_t split = static_cast<uint32_t>(b.n);
        put_name(b, my_perl, f);
        if (!b.ok) return false;
        // A file with a tab (made '?') is never the same again: its entry
        // is not found, and a record of it holds text instead.
        *e = FrameEntry{file, gv, f.stash, f.cv_flags, b.release(), split};
        return true;
      });
}

// The contexts Perl_caller_cx gives for levels 0, 1, ... (caller's subs
// and evals), into out; their number.  Perl_caller_cx walks from the top
// for each level (quadratic in the depth); this walks once, as it does
// (pp_ctl.c's dopoptosub_at: a sub, eval or format context, not a sub's
// re-entry for a regex code block; across stack levels down to the main
// one), and the caller checks the walk against Perl_caller_cx.
int walk_contexts(Ptr interp, Ptr* out, int max) {
  auto sub_at = [](Ptr cxstack, int32_t i) {
    for (; i >= 0; i--) {
      const uint8_t type = at<uint8_t>(cxstack + ZG_PL_CX_SIZE * i, ZG_PL_CX_TYPE);
      const unsigned kind = type & ZG_PL_CXT_MASK;
      if ((kind == ZG_PL_CXT_SUB && !(type & ZG_PL_CXP_SUB_RE_FAKE)) || kind == ZG_PL_CXT_EVAL ||
          kind == ZG_PL_CXT_FORMAT)
        break;
    }
    return i;
  };
  Ptr si = at<Ptr>(interp, ZG_PL_INTERP_CURSTACKINFO);
  if (!si) return 0;
  Ptr cxstack = at<Ptr>(si, ZG_PL_SI_CXSTACK);
  int32_t ix = sub_at(cxstack, at<int32_t>(si, ZG_PL_SI_CXIX));
  int n = 0;
  while (n < max) {
    while (ix < 0 && at<int32_t>(si, ZG_PL_SI_TYPE) != ZG_PL_PERLSI_MAIN) {
      si = at<Ptr>(si, ZG_PL_SI_PREV);
      if (!si) return n;
      cxstack = at<Ptr>(si, ZG_PL_SI_CXSTACK);
      ix = sub_at(cxstack, at<int32_t>(si, ZG_PL_SI_CXIX));
    }
    if (ix < 0) break;
    out[n++] = cxstack + ZG_PL_CX_SIZE * ix;
    ix = sub_at(cxstack, ix - 1);
  }
  return n;
}

// The contexts of levels 0, 1, ...: where each was entered from (in at)
// and whose sub it names (in named): the walk when Perl_caller_cx agrees
// on its last level and that there is none below (a walk that missed or
// added a context ends elsewhere), else Perl_caller_cx level by level.
// The two differ under the debugger: caller() hides its DB::sub frames,
// naming the sub DB::sub called where DB::sub was called from.
int contexts(void* my_perl, Ptr* at, Ptr* named, int max) {
  int n = walk_contexts(static_cast<Ptr>(my_perl), at, max);
  const bool same = n ? g_pl.caller_cx(my_perl, n - 1, nullptr) == at[n - 1] : true;
  if (same && (n == max || !g_pl.caller_cx(my_perl, n, nullptr))) {
    memcpy(named, at, sizeof(Ptr) * size_t(n));
    return n;
  }
  for (n = 0; n < max && (at[n] = g_pl.caller_cx(my_perl, n, &named[n])); n++) {
  }
  return n;
}

}  // namespace

bool perl_running() { return options().perl && lookup(); }

void* perl_record() {
  if (!perl_running()) return nullptr;
  void* my_perl = g_pl.get_context();
  if (!my_perl || !trusted(my_perl)) return nullptr;
  // Frame 0 is where the thread is (PL_curcop) in the innermost sub or
  // eval; frame k is where context k-1 was entered from, in context k; the
  // last is the program's top level.  The contexts are caller()'s
  // (contexts() above).
  Ptr cop = at<Ptr>(static_cast<Ptr>(my_perl), ZG_PL_INTERP_CURCOP);
  if (!cop) return nullptr;
  // Frames gathered here, the record made to their number: a malloc of a
  // few dozen bytes, not of the deepest stack's size.
  struct {
    uint32_t entry;
    int line;
  } frames[kMaxDepth];
  int n = 0;
  TextBuf full;  // used only once the table is full
  Ptr cxs[kMaxDepth], named[kMaxDepth];
  const int levels = contexts(my_perl, cxs, named, kMaxDepth);
  for (int level = 0; cop && level < kMaxDepth; level++) {
    Ptr file = at<Ptr>(cop, ZG_PL_COP_FILE);
    const uint32_t line = at<uint32_t>(cop, ZG_PL_COP_LINE);
    Ptr cx = level < levels ? cxs[level] : nullptr;
    const Func f = func_of(level < levels ? named[level] : nullptr);
    int e = full.n ? -1 : entry_of(my_perl, file, f);
    if (e < 0 && !full.n) {  // the frames so far, as text
      for (int k = 0; k < n; k++) {
        const FrameEntry& fe = g_frames.at(static_cast<int>(frames[k].entry));
        put_frame_line(full, fe.text, fe.split, frames[k].line);
      }
    }
    if (e >= 0) {
      frames[n].entry = static_cast<uint32_t>(e);
      frames[n++].line = static_cast<int>(line);
    } else {
      put_file(full, file);
      put_tab_line(full, static_cast<int>(line));
      put_name(full, my_perl, f);
      full.add("\n", 1);
    }
    cop = cx ? at<Ptr>(cx, ZG_PL_CX_OLDCOP) : nullptr;
  }
  if (n == 0 && !full.n) return nullptr;
  FrameRecord* st = frame_record_new(n ? n : 1);
  if (!st) return nullptr;
  for (int k = 0; k < n; k++) {
    st->frames[k].entry = frames[k].entry;
    st->frames[k].line = frames[k].line;
  }
  st->n = n;
  return frame_record_done(st, full);
}

char* perl_text(const void* rec) { return frame_record_text(static_cast<const FrameRecord*>(rec), g_frames); }

void perl_free_record(void* rec) { frame_record_free(static_cast<FrameRecord*>(rec)); }

void perl_after_fork_child() {
  g_frames.after_fork_child();
  g_pl.lookup.after_fork_child();
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_verify_mu = fresh;
}

namespace {

bool starts(const char* s, const char* prefix) { return !strncmp(s, prefix, strlen(prefix)); }
bool has(const char* s, const char* part) { return strstr(s, part) != nullptr; }

// ZMQ::FFI and FFI::Platypus are the binding (their subs, also those Moo
// made for them in string evals, whose file is "(eval N)"); modules under
// Perl's and Debian's library directories, or a local::lib or site tree,
// are libraries; the rest is the program's.
ScriptClass classify(const char* file, const char* function) {
  if (starts(function, "ZMQ::FFI::") || starts(function, "FFI::Platypus::") || has(file, "/ZMQ/FFI") ||
      has(file, "/FFI/Platypus"))
    return ScriptClass::Binding;
  if (starts(file, "/usr/share/perl") || (starts(file, "/usr/lib/") && has(file, "/perl")) ||
      (starts(file, "/usr/local/") && has(file, "/perl")) || has(file, "/perl5/") || has(file, "/site_perl/"))
    return ScriptClass::Library;
  return ScriptClass::User;
}

// The first two parts of a module's name ("ZMQ::FFI", "Try::Tiny",
// "Carp") from name[0, len), whose parts sep separates ("::", or "/" in a
// path: written "::" as Perl names modules).
void put_module(const char* name, size_t len, const char* sep, char* out, size_t size) {
  TextBuf b;
  const size_t step = strlen(sep);
  for (int part = 0; part < 2 && len; part++) {
    const char* cut = static_cast<const char*>(memmem(name, len, sep, step));
    const size_t n = cut ? size_t(cut - name) : len;
    if (part) b.puts("::");
    b.add(name, n);
    if (!cut) break;
    name = cut + step;
    len -= n + step;
  }
  snprintf(out, size, "%s", b.p ? b.p : "");
}

// A fold line's name: the module of a file under a Perl library directory
// (after ".../perl5/", ".../perl/5.36/", ".../site_perl/"), else the sub's
// package (a sub Moo made in a string eval), else the file's name.
void short_name(const char* file, const char* function, char* out, size_t size) {
  const char* rel = nullptr;
  for (const char* root : {"/perl5/", "/perl/", "/site_perl/"})
    if (const char* at = strstr(file, root)) rel = at + strlen(root);
  if (rel && *rel >= '0' && *rel <= '9' && strchr(rel, '/')) rel = strchr(rel, '/') + 1;  // a version's directory
  if (rel && *rel) {
    const char* dot = strstr(rel, ".pm");
    put_module(rel, dot ? size_t(dot - rel) : strlen(rel), "/", out, size);
    return;
  }
  const char* end = nullptr;  // the package's end: the last "::"
  for (const char* p = strstr(function, "::"); p; p = strstr(p + 2, "::")) end = p;
  if (end && !starts(function, "main::")) {
    put_module(function, size_t(end - function), "::", out, size);
    return;
  }
  const char* slash = strrchr(file, '/');
  snprintf(out, size, "%s", slash ? slash + 1 : file);
}

}  // namespace

// Perl prints a frame as die and Carp do (" at FILE line N"), with the sub
// the line is in first: "main::send_job at ffi_pair.pl line 18".
extern const LangOps kPerlLang = {
    "perl",   "Perl backtrace", "%M at %F line %L", perl_running, perl_record, perl_text, perl_free_record,
    classify, short_name,       perl_after_fork_child,
};

}  // namespace zg
