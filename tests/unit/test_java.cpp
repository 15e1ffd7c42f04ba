// SPDX-License-Identifier: MIT
// Java frames (src/report/java.cpp): every JNI and JVMTI slot, layout and
// constant the guard declares itself (src/report/java_api.h, so that it
// builds without a JDK) checked against the JDK's own headers; how frames
// are classified and folded.
#include <stddef.h>
#include <string.h>

#include <string>

#include <gtest/gtest.h>
#include <jni.h>
#include <jvmti.h>

#include "report/java.h"
#include "report/java_api.h"

namespace {

namespace jvm = zg::jvm;

// The slot of a member of a function table.
#define SLOT(type, member) (offsetof(type, member) / sizeof(void*))

TEST(JavaApi, JvmtiSlotsAreTheSpecifications) {
  // JvmtiEnv::at(s) reads fn[s - 1].
  EXPECT_EQ(SLOT(jvmtiInterface_1_, SetEventNotificationMode), jvm::kSetEventNotificationMode - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, Deallocate), jvm::kDeallocate - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetClassSignature), jvm::kGetClassSignature - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetSourceFileName), jvm::kGetSourceFileName - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetMethodName), jvm::kGetMethodName - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetMethodDeclaringClass), jvm::kGetMethodDeclaringClass - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetLineNumberTable), jvm::kGetLineNumberTable - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, IsMethodNative), jvm::kIsMethodNative - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetStackTrace), jvm::kGetStackTrace - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, SetEventCallbacks), jvm::kSetEventCallbacks - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, DisposeEnvironment), jvm::kDisposeEnvironment - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, GetPotentialCapabilities), jvm::kGetPotentialCapabilities - 1u);
  EXPECT_EQ(SLOT(jvmtiInterface_1_, AddCapabilities), jvm::kAddCapabilities - 1u);
}

TEST(JavaApi, JniSlotsAndConstants) {
  EXPECT_EQ(offsetof(JNIInvokeInterface_, GetEnv), offsetof(jvm::InvokeTable, get_env));
  EXPECT_EQ(SLOT(JNINativeInterface_, DeleteLocalRef), size_t(jvm::kDeleteLocalRefSlot));
  EXPECT_EQ(jvm::kJniOk, JNI_OK);
  EXPECT_EQ(JNI_EVERSION, -3);  // java.cpp's "no JVMTI 1.2 here"
  EXPECT_EQ(jvm::kJniVersion16, JNI_VERSION_1_6);
  EXPECT_EQ(jvm::kJvmtiVersion12, JVMTI_VERSION_1_2);
  EXPECT_EQ(jvm::kJvmtiEnable, JVMTI_ENABLE);
  EXPECT_EQ(jvm::kJvmtiEventVmDeath, JVMTI_EVENT_VM_DEATH);
}

TEST(JavaApi, LayoutsAreTheHeaders) {
  EXPECT_EQ(sizeof(jvm::FrameInfo), sizeof(jvmtiFrameInfo));
  EXPECT_EQ(offsetof(jvm::FrameInfo, method), offsetof(jvmtiFrameInfo, method));
  EXPECT_EQ(offsetof(jvm::FrameInfo, location), offsetof(jvmtiFrameInfo, location));
  EXPECT_EQ(sizeof(jvm::LineEntry), sizeof(jvmtiLineNumberEntry));
  EXPECT_EQ(offsetof(jvm::LineEntry, start), offsetof(jvmtiLineNumberEntry, start_location));
  EXPECT_EQ(offsetof(jvm::LineEntry, line), offsetof(jvmtiLineNumberEntry, line_number));
  EXPECT_EQ(offsetof(jvm::EventCallbacks, vm_death), offsetof(jvmtiEventCallbacks, VMDeath));
  EXPECT_EQ(sizeof(jvm::Capabilities), sizeof(jvmtiCapabilities));
  // The two capability bits, where the header's bit fields put them.
  jvmtiCapabilities real;
  memset(&real, 0, sizeof real);
  real.can_get_source_file_name = 1;
  jvm::Capabilities mine = {};
  mine.word[0] = 1u << jvm::kCanGetSourceFileNameBit;
  EXPECT_EQ(memcmp(&real, &mine, sizeof mine), 0);
  memset(&real, 0, sizeof real);
  real.can_get_line_numbers = 1;
  mine.word[0] = 1u << jvm::kCanGetLineNumbersBit;
  EXPECT_EQ(memcmp(&real, &mine, sizeof mine), 0);
}

zg::ScriptClass kind(const char* function) { return zg::java_classify("X.java", function); }

TEST(JavaFrames, Classified) {
  using zg::ScriptClass;
  EXPECT_EQ(kind("org.zeromq.ZMQ$Socket.send"), ScriptClass::Binding);
  EXPECT_EQ(kind("java.lang.Thread.run"), ScriptClass::Runtime);
  EXPECT_EQ(kind("jdk.internal.reflect.NativeMethodAccessorImpl.invoke0"), ScriptClass::Runtime);
  EXPECT_EQ(kind("sun.nio.ch.EPoll.wait"), ScriptClass::Runtime);
  EXPECT_EQ(kind("JzmqPair$$Lambda$14/0x0000000800c01000.run"), ScriptClass::Runtime);
  EXPECT_EQ(kind("org.junit.runners.ParentRunner.run"), ScriptClass::Library);
  EXPECT_EQ(kind("kotlin.concurrent.ThreadsKt.thread"), ScriptClass::Library);
  EXPECT_EQ(kind("JzmqPair.sendJob"), ScriptClass::User);
  EXPECT_EQ(kind("com.example.app.Worker.run"), ScriptClass::User);
  EXPECT_EQ(kind("org.zeromqx.Mine.send"), ScriptClass::User);  // a prefix of a package is not the package
}

std::string short_name(const char* function) {
  char out[64];
  zg::java_short_name("X.java", function, out, sizeof out);
  return out;
}

TEST(JavaFrames, FoldedByPackage) {
  EXPECT_EQ(short_name("org.zeromq.ZMQ$Socket.send"), "org.zeromq");
  EXPECT_EQ(short_name("java.lang.Thread.run"), "java.lang");
  EXPECT_EQ(short_name("JzmqPair$$Lambda$14/0x0000000800c01000.run"), "JzmqPair");
  EXPECT_EQ(short_name("Main.main"), "Main");
}

}  // namespace
