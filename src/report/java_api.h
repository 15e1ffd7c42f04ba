// SPDX-License-Identifier: MIT
// The few parts of the JNI invocation API and of JVMTI 1.2 that
// src/report/java.cpp uses, declared here so that the guard builds without
// a JDK's headers (it is one binary for every process).  Every table slot
// and layout below is the specification's (a slot is the function's number
// in the JVMTI spec minus one); tests/unit/test_java.cpp checks each of them
// against the JDK's own jni.h and jvmti.h.
#pragma once
#include <stdint.h>

namespace zg {
namespace jvm {

using jint = int32_t;
using jlong = int64_t;
using jlocation = int64_t;
using jboolean = uint8_t;
using jobject = void*;
using jclass = void*;
using jmethodID = void*;

constexpr jint kJniOk = 0;
constexpr jint kJniVersion16 = 0x00010006;    // JNI_VERSION_1_6
constexpr jint kJvmtiVersion12 = 0x30010200;  // JVMTI_VERSION_1_2
constexpr int kJvmtiEnable = 1;              // JVMTI_ENABLE
constexpr int kJvmtiEventVmDeath = 51;       // JVMTI_EVENT_VM_DEATH

// JavaVM: a pointer to its table of invocation functions.
struct JavaVM;
struct InvokeTable {
  void* reserved[3];
  void* destroy_java_vm;
  void* attach_current_thread;
  void* detach_current_thread;
  jint (*get_env)(JavaVM* vm, void** penv, jint version);
};
struct JavaVM {
  const InvokeTable* fn;
};

// JNIEnv: a pointer to its table; only DeleteLocalRef (slot 23) is used.
struct JNIEnv;
constexpr int kDeleteLocalRefSlot = 23;
struct JNIEnv {
  void* const* fn;
  void delete_local_ref(jobject o) {
    reinterpret_cast<void (*)(JNIEnv*, jobject)>(fn[kDeleteLocalRefSlot])(this, o);
  }
};

struct FrameInfo {  // jvmtiFrameInfo
  jmethodID method;
  jlocation location;
};
struct LineEntry {  // jvmtiLineNumberEntry
  jlocation start;
  jint line;
};

// jvmtiCapabilities: 128 bits; the guard asks for two.
struct Capabilities {
  uint32_t word[4];
};
constexpr int kCanGetSourceFileNameBit = 11;
constexpr int kCanGetLineNumbersBit = 12;

// jvmtiEnv: a pointer to its function table.  The slots used, by the
// function's number in the JVMTI specification.
enum Slot : int {
  kSetEventNotificationMode = 2,
  kDeallocate = 47,
  kGetClassSignature = 48,
  kGetSourceFileName = 50,
  kGetMethodName = 64,
  kGetMethodDeclaringClass = 65,
  kGetLineNumberTable = 70,
  kIsMethodNative = 76,
  kGetStackTrace = 104,
  kSetEventCallbacks = 122,
  kDisposeEnvironment = 127,
  kGetPotentialCapabilities = 140,
  kAddCapabilities = 142,
};

struct JvmtiEnv;
// jvmtiEventCallbacks up to its second member: SetEventCallbacks takes the
// size, and the events past it have no callback.
struct EventCallbacks {
  void (*vm_init)(JvmtiEnv*, JNIEnv*, void*);
  void (*vm_death)(JvmtiEnv*, JNIEnv*);
};

struct JvmtiEnv {
  void* const* fn;

  template <typename F>
  F at(Slot s) const {
    return reinterpret_cast<F>(fn[s - 1]);
  }
  int deallocate(void* p) { return at<int (*)(JvmtiEnv*, void*)>(kDeallocate)(this, p); }
  int class_signature(jclass k, char** sig) {
    return at<int (*)(JvmtiEnv*, jclass, char**, char**)>(kGetClassSignature)(this, k, sig, nullptr);
  }
  int source_file_name(jclass k, char** name) {
    return at<int (*)(JvmtiEnv*, jclass, char**)>(kGetSourceFileName)(this, k, name);
  }
  int method_name(jmethodID m, char** name) {
    return at<int (*)(JvmtiEnv*, jmethodID, char**, char**, char**)>(kGetMethodName)(this, m, name, nullptr,
                                                                                       nullptr);
  }
  int method_declaring_class(jmethodID m, jclass* k) {
    return at<int (*)(JvmtiEnv*, jmethodID, jclass*)>(kGetMethodDeclaringClass)(this, m, k);
  }
  int line_number_table(jmethodID m, jint* n, LineEntry** table) {
    return at<int (*)(JvmtiEnv*, jmethodID, jint*, LineEntry**)>(kGetLineNumberTable)(this, m, n, table);
  }
  int is_method_native(jmethodID m, jboolean* native) {
    return at<int (*)(JvmtiEnv*, jmethodID, jboolean*)>(kIsMethodNative)(this, m, native);
  }
  // thread null: the calling thread.
  int stack_trace(jint start, jint max, FrameInfo* frames, jint* n) {
    return at<int (*)(JvmtiEnv*, void*, jint, jint, FrameInfo*, jint*)>(kGetStackTrace)(this, nullptr, start, max,
                                                                                       frames, n);
  }
  int set_event_callbacks(const EventCallbacks* c) {
    return at<int (*)(JvmtiEnv*, const EventCallbacks*, jint)>(kSetEventCallbacks)(this, c, sizeof *c);
  }
  // For every thread (the event's thread null).
  int enable_event(int event) {
    return at<int (*)(JvmtiEnv*, int, int, void*, ...)>(kSetEventNotificationMode)(this, kJvmtiEnable, event,
                                                                                   nullptr);
  }
  int dispose() { return at<int (*)(JvmtiEnv*)>(kDisposeEnvironment)(this); }
  int potential_capabilities(Capabilities* c) {
    return at<int (*)(JvmtiEnv*, Capabilities*)>(kGetPotentialCapabilities)(this, c);
  }
  int add_capabilities(const Capabilities* c) {
    return at<int (*)(JvmtiEnv*, const Capabilities*)>(kAddCapabilities)(this, c);
  }
};

}  // namespace jvm
}  // namespace zg
