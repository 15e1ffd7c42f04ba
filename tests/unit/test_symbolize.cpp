// SPDX-License-Identifier: MIT
#include <stdio.h>

#include <gtest/gtest.h>

#include "report/symbolize.h"

// Rust's legacy symbols, as the C++ demangler leaves them, read as
// rustc-demangle prints them; other names untouched.
TEST(Symbolize, RustLegacyNamesLoseHashAndEscapes) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"_$LT$T$u20$as$u20$zmq..Sendable$GT$::send::hdf41527a5a21d3f0", "<T as zmq::Sendable>::send"},
      {"zg_rust_pair::main::_$u7b$$u7b$closure$u7d$$u7d$::h37bd67750ee0ce11", "zg_rust_pair::main::{{closure}}"},
      {"zmq::Socket::send::h6ea4ba0bd7f791a4", "zmq::Socket::send"},
      {"core..ptr..drop_in_place$LT$$RF$mut$u20$std..io..Write$GT$::h0123456789abcdef",
       "core::ptr::drop_in_place<&mut std::io::Write>"},
      {"zmq::socket_t::send(zmq::message_t&, int)", "zmq::socket_t::send(zmq::message_t&, int)"},
      {"send_job", "send_job"},
      {"a::hxyz", "a::hxyz"},
      {"x::h0123456789abcdeg", "x::h0123456789abcdeg"},
      {"", ""},
  };
  for (const auto& c : cases) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", c.in);
    zg::rust_legacy_clean(buf);
    EXPECT_STREQ(buf, c.out) << c.in;
  }
}
