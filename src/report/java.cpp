// SPDX-License-Identifier: MIT
#include "report/java.h"

#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>

#include "core/options.h"
#include "report/frame_record.h"
#include "report/intern.h"
#include "report/late_lookup.h"
#include "report/java_api.h"
#include "report/text.h"

namespace zg {
namespace {

using jvm::FrameInfo;
using jvm::JavaVM;
using jvm::JNIEnv;
using jvm::jint;
using jvm::JvmtiEnv;
using jvm::LineEntry;

struct Jv {
  LateLookup lookup;  // created_vms is set once it is found
  jint (*created_vms)(JavaVM**, jint, jint*);
  std::atomic<JavaVM*> vm{nullptr};
  std::atomic<JvmtiEnv*> ti{nullptr};
  std::atomic<bool> ti_refused{false};  // this VM has no JVMTI 1.2
};
Jv g_jv;

// libjvm.so's JNI_GetCreatedJavaVMs (the java launcher loads it
// RTLD_GLOBAL; a C program embedding the VM may load it local).
bool lookup() {
  return g_jv.lookup.ensure([] { return late_sym(&g_jv.created_vms, "JNI_GetCreatedJavaVMs", "/libjvm.so"); });
}

// The VM, once made.  JNI_GetCreatedJavaVMs reads one flag; a VM is never
// made twice in a process, so the pointer (to a static of libjvm) is kept.
JavaVM* the_vm() {
  JavaVM* vm = g_jv.vm.load(std::memory_order_acquire);
  if (vm) return vm;
  jint n = 0;
  if (g_jv.created_vms(&vm, 1, &n) != jvm::kJniOk || n < 1 || !vm) return nullptr;
  g_jv.vm.store(vm, std::memory_order_release);
  return vm;
}

// The calling thread's JNIEnv: null unless it is a Java thread (attached)
// of a VM that is still there.  GetEnv reads the thread's own record.
JNIEnv* this_env(JavaVM* vm) {
  void* env = nullptr;
  if (vm->fn->get_env(vm, &env, jvm::kJniVersion16) != jvm::kJniOk) return nullptr;
  return static_cast<JNIEnv*>(env);
}

// --- the VM's exit ----------------------------------------------------------
//
// A Java thread calling JVMTI (or JNI) from native code enters the VM, and
// waits there while a safepoint is in progress.  An ordinary safepoint
// ends; the VM's exit (System.exit, or main's end) stops every thread at a
// last one that never ends, then runs the process's exit handlers, the
// guard's among them.  A record in flight then would never return, and
// the socket lock its thread holds (a claim records under it) would hang
// an exit handler that takes it (leaks=1 lists open sockets).  So the VM's
// death (JVMTI's VMDeath event, posted by the exiting thread before that
// last safepoint, before JVMTI's phase turns dead) makes records stop, and
// waits for those in flight to finish: at most 1 s, a thread suspended by
// a debugger meanwhile is not waited for.

std::atomic<bool> g_dead{false};
std::atomic<int> g_in_flight{0};

void on_vm_death(JvmtiEnv*, JNIEnv*) {
  g_dead.store(true);  // seq_cst, as the records' count: one of them sees the other
  for (int waited = 0; g_in_flight.load() > 0 && waited < 1000; waited++) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
}

// Held by a record for as long as it may call into the VM.
struct InFlight {
  InFlight() { g_in_flight.fetch_add(1); }
  ~InFlight() { g_in_flight.fetch_sub(1); }
  bool vm_alive() const { return !g_dead.load(); }
};

// The guard's JVMTI environment, made by the first Java thread that needs
// it (GetEnv for JVMTI in the live phase, the way an agent loaded into a
// running VM starts), with the two capabilities a source file and line
// need if the VM offers them (HotSpot has them always).  No guard lock is
// held for it: two threads that race make two, and the loser's is disposed.
JvmtiEnv* jvmti(JavaVM* vm) {
  JvmtiEnv* ti = g_jv.ti.load(std::memory_order_acquire);
  if (ti || g_jv.ti_refused.load(std::memory_order_relaxed)) return ti;
  void* p = nullptr;
  const jint rc = vm->fn->get_env(vm, &p, jvm::kJvmtiVersion12);
  if (rc != jvm::kJniOk || !p) {
    // JNI_EVERSION: this VM has no JVMTI 1.2 (never will).  Anything else
    // (not the live phase yet) is asked again next time.
    if (rc == -3) g_jv.ti_refused.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  ti = static_cast<JvmtiEnv*>(p);
  jvm::Capabilities can = {}, want = {};
  if (ti->potential_capabilities(&can) == 0) {
    want.word[0] = can.word[0] & ((1u << jvm::kCanGetSourceFileNameBit) | (1u << jvm::kCanGetLineNumbersBit));
    if (want.word[0]) ti->add_capabilities(&want);  // without them: no file or line, the frames still
  }
  const jvm::EventCallbacks on = {nullptr, on_vm_death};
  if (ti->set_event_callbacks(&on) == 0) ti->enable_event(jvm::kJvmtiEventVmDeath);
  JvmtiEnv* expected = nullptr;
  if (!g_jv.ti.compare_exchange_strong(expected, ti, std::memory_order_acq_rel)) {
    ti->dispose();
    return expected;
  }
  return ti;
}

// Java's own depth limit for a Throwable is 1024; 100 frames from the top
// name the program's code (the innermost) at any depth, as for Ruby.
constexpr int kMaxDepth = 100;

// --- methods, resolved once ------------------------------------------------
//
// A record keeps table entries and lines.  A method's entry is found again
// by its jmethodID: HotSpot (17) never frees one while its class loader
// lives, and never reuses one of a loader that was unloaded (its block is
// kept), so an id always names the same method.  (After a class is redefined, a
// debugger's hot swap, its id names the new version: the lines kept are
// those of the version first seen.)

struct MethodEntry {
  uint64_t id;
  char* text;      // "File.java\t" ... "\tClass.method": the line goes between
  uint32_t split;  // where the line goes
  int nlines;      // -1: no line table; -2: a native method
  LineEntry* lines;
};

InternTable<MethodEntry, 8192> g_methods;

// "Lorg/zeromq/ZMQ$Socket;" as Java names it: "org.zeromq.ZMQ$Socket".  A
// hidden class (a lambda's) has a '.' before its address in the signature,
// a '/' in its name: "JzmqPair$$Lambda$1/0x0000000800c01000".
void put_class_name(TextBuf& b, const char* sig) {
  size_t n = strlen(sig);
  if (n >= 2 && sig[0] == 'L' && sig[n - 1] == ';') {
    sig++;
    n -= 2;
  }
  const size_t at = b.n;
  b.add(sig, n);
  for (char* c = b.p + at; b.ok && c < b.p + b.n; c++) {
    if (*c == '/') *c = '.';
    else if (*c == '.') *c = '/';
    else if (*c == '\t' || *c == '\n') *c = '?';
  }
}

void put_plain(TextBuf& b, const char* s) {
  const size_t at = b.n;
  b.puts(s);
  for (char* c = b.p + at; b.ok && c < b.p + b.n; c++)
    if (*c == '\t' || *c == '\n') *c = '?';
}

// Asks JVMTI for a method's class, name, source file and line table: a few
// calls, the first time the method is seen.  Every buffer JVMTI hands out is
// deallocated, the class's local reference deleted (a JNI function allowed
// with an exception pending, as every JVMTI function is).
bool resolve(JvmtiEnv* ti, JNIEnv* env, jvm::jmethodID id, MethodEntry* out) {
  char* name = nullptr;
  char* sig = nullptr;
  char* file = nullptr;
  jvm::jclass klass = nullptr;
  jvm::jboolean native = 0;
  if (ti->method_name(id, &name) != 0) return false;
  bool ok = ti->method_declaring_class(id, &klass) == 0 && klass && ti->class_signature(klass, &sig) == 0 && sig;
  if (ok && ti->source_file_name(klass, &file) != 0) file = nullptr;  // no SourceFile attribute
  if (klass) env->delete_local_ref(klass);
  *out = MethodEntry{reinterpret_cast<uint64_t>(id), nullptr, 0, -1, nullptr};
  if (ok && ti->is_method_native(id, &native) == 0 && native) out->nlines = -2;
  if (ok) {
    // The file as Java prints it in a frame: "Native Method" for a native
    // method, "Unknown Source" for a class without a SourceFile attribute.
    TextBuf b;
    put_plain(b, out->nlines == -2 ? "Native Method" : file ? file : "Unknown Source");
    out->split = static_cast<uint32_t>(b.n);
    put_class_name(b, sig);
    b.add(".", 1);
    put_plain(b, name);
    ok = b.ok;
    if (ok) out->text = b.release();
  }
  if (ok && out->nlines != -2) {
    jint n = 0;
    LineEntry* table = nullptr;
    if (ti->line_number_table(id, &n, &table) == 0 && table && n > 0) {
      out->lines = static_cast<LineEntry*>(malloc(sizeof(LineEntry) * size_t(n)));
      if (out->lines) {
        memcpy(out->lines, table, sizeof(LineEntry) * size_t(n));
        out->nlines = n;
      }
    }
    if (table) ti->deallocate(table);
  }
  if (file) ti->deallocate(file);
  if (sig) ti->deallocate(sig);
  ti->deallocate(name);
  return ok;
}

void free_entry(MethodEntry* e) {
  free(e->text);
  free(e->lines);
}

// A location's line, as HotSpot's own Method::line_number_from_bci finds it:
// the entry that starts at the location, else the last that starts before.
int line_of(const MethodEntry& e, jvm::jlocation at) {
  if (e.nlines == -2) return -2;
  if (e.nlines <= 0 || at < 0) return -1;
  int best = -1;
  jvm::jlocation best_start = -1;
  for (int i = 0; i < e.nlines; i++) {
    const LineEntry& l = e.lines[i];
    if (l.start == at) return l.line;
    if (l.start < at && l.start > best_start) {
      best_start = l.start;
      best = l.line;
    }
  }
  return best;
}

}  // namespace

bool java_running() { return options().java && lookup() && the_vm() != nullptr; }

FrameRecord* java_stack_record() {
  if (!java_running()) return nullptr;
  InFlight in_flight;
  if (!in_flight.vm_alive()) return nullptr;
  JavaVM* vm = g_jv.vm.load(std::memory_order_acquire);
  JNIEnv* env = this_env(vm);  // the guard's own threads, libzmq's: no Java frames
  if (!env) return nullptr;
  JvmtiEnv* ti = jvmti(vm);
  if (!ti) return nullptr;
  FrameInfo frames[kMaxDepth];
  jint n = 0;
  if (ti->stack_trace(0, kMaxDepth, frames, &n) != 0 || n <= 0) return nullptr;
  if (n > kMaxDepth) n = kMaxDepth;
  FrameRecord* st = frame_record_new(n);
  if (!st) return nullptr;
  TextBuf full;  // used only once the table is full
  for (int i = 0; i < n; i++) {
    const uint64_t id = reinterpret_cast<uint64_t>(frames[i].method);
    const auto same = [id](const MethodEntry& e) { return e.id == id; };
    int e = g_methods.find(id, same);
    MethodEntry made;
    bool have = false;
    if (e < 0) {
      // Resolved outside the table's lock: JVMTI may wait for a safepoint
      // to end, and nobody waiting for the table should wait for that.
      if (!resolve(ti, env, frames[i].method, &made)) continue;
      have = true;
      e = g_methods.intern(id, same, [&](MethodEntry* slot) {
        *slot = made;
        have = false;  // the table keeps it
        return true;
      });
    }
    const MethodEntry& m = e >= 0 ? g_methods.at(e) : made;
    const int line = line_of(m, frames[i].location);
    if (e >= 0 && !full.n) {
      st->frames[st->n].entry = static_cast<uint32_t>(e);
      st->frames[st->n++].line = line;
    } else {
      if (!full.n) frame_record_put(full, st, g_methods);  // the table is full: the frames so far as text
      put_frame_line(full, m.text, m.split, line);
    }
    if (have) free_entry(&made);  // another thread's entry won, or the text has it
  }
  return frame_record_done(st, full);
}

char* java_stack_text(const FrameRecord* st) { return frame_record_text(st, g_methods); }

void java_stack_free(FrameRecord* st) { frame_record_free(st); }

void java_after_fork_child() {
  g_methods.after_fork_child();
  g_jv.lookup.after_fork_child();
}

namespace {

bool starts(const char* s, const char* prefix) { return !strncmp(s, prefix, strlen(prefix)); }

}  // namespace

ScriptClass java_classify(const char*, const char* function) {
  // By class: a source file's name says nothing of where its class came from.
  if (starts(function, "org.zeromq.")) return ScriptClass::Binding;
  static const char* const runtime[] = {"java.", "javax.", "jdk.", "sun.", "com.sun."};
  for (const char* p : runtime)
    if (starts(function, p)) return ScriptClass::Runtime;
  if (strstr(function, "$$Lambda")) return ScriptClass::Runtime;  // the VM's hidden class behind a lambda
  static const char* const library[] = {"kotlin.", "kotlinx.",  "scala.", "clojure.", "groovy.",
                                        "org.codehaus.groovy.", "org.junit.", "junit.", "org.testng."};
  for (const char* p : library)
    if (starts(function, p)) return ScriptClass::Library;
  return ScriptClass::User;
}

void java_short_name(const char*, const char* function, char* out, size_t size) {
  // "pkg.sub.Class.method": the package is what precedes the last two dots.
  const char* method = strrchr(function, '.');
  const char* cls = method;
  while (cls && cls > function && cls[-1] != '.') cls--;
  size_t n = cls && cls > function ? size_t(cls - 1 - function) : 0;
  if (n == 0) {  // no package: the class, up to a hidden class's "$$"
    n = method ? size_t(method - function) : strlen(function);
    const char* dollars = strstr(function, "$$");
    if (dollars && size_t(dollars - function) < n) n = size_t(dollars - function);
  }
  snprintf(out, size, "%.*s", static_cast<int>(n), function);
}

namespace {

void* record() { return java_stack_record(); }
char* text(const void* rec) { return java_stack_text(static_cast<const FrameRecord*>(rec)); }
void free_record(void* rec) { java_stack_free(static_cast<FrameRecord*>(rec)); }

}  // namespace

extern const LangOps kJavaLang = {
    "java",        "Java stack trace", "at %M(%F:%L)",       java_running, record, text, free_record,
    java_classify, java_short_name,    java_after_fork_child,
};

}  // namespace zg
