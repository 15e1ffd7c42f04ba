// SPDX-License-Identifier: MIT
// Text for reports and dumps: a growing buffer with the few shapes every
// report shares (numbered native frames, Python frames, JSON strings).
// Reports are rare, so malloc is fine here.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/stack.h"
#include "report/symbolize.h"

namespace zg {

struct TextBuf {
  char* p = nullptr;
  size_t n = 0, cap = 0;
  bool ok = true;  // false once an append was dropped (no memory): the text is short
  ~TextBuf() { free(p); }
  void reserve(size_t more) {
    if (n + more + 1 <= cap) return;
    size_t c = cap ? cap : 4096;
    while (c < n + more + 1) c *= 2;
    char* q = static_cast<char*>(realloc(p, c));
    if (!q) {
      ok = false;
      return;
    }
    p = q;
    cap = c;
  }
  void add(const char* s, size_t len) {
    reserve(len);
    if (n + len + 1 > cap) return;
    memcpy(p + n, s, len);
    n += len;
    p[n] = 0;
  }
  void puts(const char* s) { add(s, strlen(s)); }
  // Text that comes from the program (thread names, endpoints, file
  // names): a control character becomes '?', so that a report's lines stay
  // the lines they are (SUMMARY is one line, whatever a thread is named).
  void plain(const char* s) {
    for (; s && *s; s++) {
      unsigned char c = static_cast<unsigned char>(*s);
      char out = c < 0x20 || c == 0x7f ? '?' : *s;
      add(&out, 1);
    }
  }
  void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    add(tmp, k < (int)sizeof tmp ? size_t(k) : sizeof tmp - 1);
  }
  void json_str(const char* s) {
    puts("\"");
    for (; s && *s; s++) {
      unsigned char c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') printf("\\%c", c);
      else if (c == '\n') puts("\\n");
      else if (c < 0x20) printf("\\u%04x", c);
      else if (c < 0x80) add(reinterpret_cast<const char*>(&c), 1);
      else if (size_t k = utf8_len(reinterpret_cast<const unsigned char*>(s))) {
        add(s, k);
        s += k - 1;
      } else {
        // Not UTF-8 (a thread name the kernel cut mid-character, a Latin-1
        // path): JSON must be, or parsers reject the whole line.
        puts("\\ufffd");
      }
    }
    puts("\"");
  }
  // Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none.
  static size_t utf8_len(const unsigned char* p) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
      if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
  }
  char* release() {
    char* r = p;
    p = nullptr;
    return r ? r : strdup("");
  }

  // "#i 0x... in function file:line (module+0xoffset)", one frame a line,
  // at most `limit` frames and a count of the rest.
  void stack(const Stack* s, const char* indent, int limit = kMaxFrames);
  // One of those lines, for frame i already symbolized.
  void frame_line(int i, void* pc, const Frame& f, const char* indent);
  // A Python traceback (as python.h hands it over), oldest call first.
  void py(const char* text, const char* title, const char* indent);

  TextBuf() = default;
  TextBuf(const TextBuf&) = delete;
  TextBuf& operator=(const TextBuf&) = delete;
};

}  // namespace zg
