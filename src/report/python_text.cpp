// SPDX-License-Identifier: MIT
// Python tracebacks as text: read from the frames by a thread holding the
// GIL, or written by the interpreter's own dumper; and read back, frame by
// frame, for a report.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report/python.h"
#include "report/python_api.h"

namespace zg {
namespace {


// Appends code point c to out as UTF-8; a lone surrogate U+DC80..U+DCFF is
// the byte Python's surrogateescape made of an undecodable one in a file
// name, and becomes that byte again.
size_t put_utf8(uint32_t c, char* out, size_t at, size_t cap) {
  char u[4];
  size_t n;
  if (c >= 0xDC80 && c <= 0xDCFF) {
    u[0] = static_cast<char>(c & 0xFF);
    n = 1;
  } else if (c < 0x80) {
    u[0] = static_cast<char>(c);
    n = 1;
  } else if (c < 0x800) {
    u[0] = static_cast<char>(0xC0 | (c >> 6));
    u[1] = static_cast<char>(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    u[0] = static_cast<char>(0xE0 | (c >> 12));
    u[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    u[2] = static_cast<char>(0x80 | (c & 0x3F));
    n = 3;
  } else {
    u[0] = static_cast<char>(0xF0 | (c >> 18));
    u[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    u[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    u[3] = static_cast<char>(0x80 | (c & 0x3F));
    n = 4;
  }
  if (at + n >= cap) return at;
  memcpy(out + at, u, n);
  return at + n;
}

// The traceback dumper writes printable ASCII as it is and every other
// character as \xNN, \uNNNN or \UNNNNNNNN: back to UTF-8, so that a file
// name in a report is the file's real name.  (A backslash is printable and
// written as it is, so a name that itself holds "\x41" reads as "A": the
// dumper's output cannot tell them apart; traceback_from_frames writes a
// backslash as \x5C, so its text has no such doubt.)
void py_unescape(const char* s, size_t n, char* out, size_t cap) {
  size_t at = 0;
  for (size_t i = 0; i < n && at + 1 < cap;) {
    size_t digits = 0;
    if (s[i] == '\\' && i + 1 < n) digits = s[i + 1] == 'x' ? 2 : s[i + 1] == 'u' ? 4 : s[i + 1] == 'U' ? 8 : 0;
    uint32_t c = 0;
    bool ok = digits != 0 && i + 2 + digits <= n;
    for (size_t k = 0; ok && k < digits; k++) {
      char h = s[i + 2 + k];
      int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (v < 0) ok = false;
      c = c * 16 + static_cast<uint32_t>(v);
    }
    if (ok && c <= 0x10FFFF) {
      at = put_utf8(c, out, at, cap);
      i += 2 + digits;
    } else {
      out[at++] = s[i++];
    }
  }
  out[at] = 0;
}

// \xNN, \uNNNN: a character written as the dumper writes it.
void put_hex(TextBuf* t, char kind, uint32_t c, int digits) { t->printf("\\%c%0*X", kind, digits, c); }

// A character py_unescape must get back as it was: a control character
// would break the line, and a backslash written as it is could be read
// as the start of an escape (the dumper's output has that ambiguity).
bool escaped(uint32_t c) { return c < 0x20 || c == 0x7F || c == '\\'; }

// Writes str s as the dumper would, but as UTF-8 rather than with escapes
// (py_unescape reads both the same).  False, and nothing written, if s is
// not a str.  GIL held, no exception set.
bool put_str(TextBuf* t, void* s) {
  if (!s) return false;
  ssize_t size = 0;
  if (const char* u = g_py.as_utf8_size(s, &size)) {
    ssize_t chars = 0;
    size_t i = 0, run = 0;
    for (; i < size_t(size); i++) {
      unsigned char b = static_cast<unsigned char>(u[i]);
      if ((b & 0xC0) != 0x80 && chars++ == kPyMaxChars) break;
      if (escaped(b)) {
        t->add(u + run, i - run);
        put_hex(t, 'x', b, 2);
        run = i + 1;
      }
    }
    t->add(u + run, i - run);
    if (i < size_t(size)) t->puts("...");
    return true;
  }
  // Not a str, or one that UTF-8 cannot hold: a lone surrogate, as
  // surrogateescape makes of an undecodable byte in a file name.  Written
  // as the dumper writes it, character by character.
  g_py.err_clear();
  ssize_t len = g_py.unicode_len(s);
  if (len < 0) {
    g_py.err_clear();
    return false;
  }
  for (ssize_t i = 0; i < len && i < kPyMaxChars; i++) {
    uint32_t c = g_py.read_char(s, i);
    if (c == uint32_t(-1)) {
      g_py.err_clear();
      break;
    }
    if (escaped(c)) {
      put_hex(t, 'x', c, 2);
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      put_hex(t, 'u', c, 4);
    } else {
      char u[5];
      t->add(u, put_utf8(c, u, 0, sizeof u));
    }
  }
  if (len > kPyMaxChars) t->puts("...");
  return true;
}

// The calling thread's traceback in the dumper's format, read from its
// frames through the C API: for a thread that holds the GIL, and without a
// system call.  Runs no Python code: the garbage collector, which the frame
// objects made for frames that had none could start (and with it any
// __del__), is off meanwhile; a pending exception is kept as it was.
// False when something failed or there is no frame (nothing is left behind
// and the caller asks the dumper).
bool traceback_from_frames(void* ts, char** out) {
  *out = nullptr;
  void *et, *ev, *tb;
  g_py.err_fetch(&et, &ev, &tb);
  int gc_was = g_py.gc_disable();
  void* co_filename = g_py.intern("co_filename");
  void* co_name = g_py.intern("co_name");
  bool failed = !co_filename || !co_name;
  TextBuf t;
  // No frame: none, or one that could not be made (and the error was
  // cleared): the dumper tells them apart.
  void* frame = failed ? nullptr : g_py.tstate_frame(ts);
  if (!frame) failed = true;
  t.puts("Stack (most recent call first):\n");
  for (int depth = 0; frame; depth++) {
    if (depth == kPyMaxDepth) {
      t.puts("  ...\n");
      g_py.decref(frame);
      break;
    }
    void* code = g_py.frame_code(frame);
    t.puts("  File ");
    py_put_field(&t, code, co_filename, true);
    int line = g_py.frame_line(frame);
    t.puts(", line ");
    if (line >= 0) {
      char num[16];
      t.add(num, snprintf(num, sizeof num, "%d", line));
    } else {
      t.puts("???");
    }
    t.puts(" in ");
    py_put_field(&t, code, co_name, false);
    t.puts("\n");
    if (code) g_py.decref(code);
    void* back = g_py.frame_back(frame);
    g_py.decref(frame);
    frame = back;
  }
  if (co_filename) g_py.decref(co_filename);
  if (co_name) g_py.decref(co_name);
  // Anything still set is this function's (a frame object that could not
  // be made ends the walk early): the text may be short.
  if (g_py.err_occurred()) {
    g_py.err_clear();
    failed = true;
  }
  if (gc_was) g_py.gc_enable();
  g_py.err_restore(et, ev, tb);
  if (failed || !t.ok) return false;
  *out = t.release();
  return true;
}

// The traceback as _Py_DumpTraceback writes it: safe without the GIL, but
// its every piece of text is a write() of its own (about 10 per frame).
char* traceback_dumped(void* ts) {
  int fd = memfd_create("zmq-guard-py", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  g_py.dump(fd, ts);
  off_t size = lseek(fd, 0, SEEK_END);
  char* text = nullptr;
  if (size > 0 && size < (1 << 20)) {
    text = static_cast<char*>(malloc(size + 1));
    if (text && pread(fd, text, size, 0) == size) {
      text[size] = 0;
    } else {
      free(text);
      text = nullptr;
    }
  }
  close(fd);
  return text;
}
}  // namespace

// `  File "path", line N in name` for one code object's attribute, or ???
// when it is missing or not a str.
void py_put_field(TextBuf* t, void* code, void* attr, bool quoted) {
  void* v = code ? g_py.getattr_obj(code, attr) : nullptr;
  if (!v) g_py.err_clear();
  size_t at = t->n;
  if (quoted) t->add("\"", 1);
  if (put_str(t, v)) {
    if (quoted) t->add("\"", 1);
  } else {
    t->n = at;
    if (t->p) t->p[at] = 0;
    t->puts("???");
  }
  if (v) g_py.decref(v);
}

char* py_traceback_current() {
  if (!py_running()) return nullptr;
  void* ts = g_py.this_tstate();
  if (!ts) return nullptr;
  char* text = nullptr;
  // Without the GIL (inside pyzmq's send and receive) only the dumper is
  // safe; while the interpreter finalizes it is used too.
  bool read = g_py.frames && py_holds_gil() && !g_py.is_finalizing() && traceback_from_frames(ts, &text);
  if (!read) text = traceback_dumped(ts);
  if (text && !strstr(text, "File \"")) {
    free(text);
    text = nullptr;
  }
  return text;
}

int py_frames(const char* text, void (*fn)(const PyFrame& f, void* ctx), void* ctx) {
  if (!text) return 0;
  // Lines look like:   File "/path/x.py", line 12 in worker
  // and come most recent first; note where they are, then parse and hand
  // them out oldest first.  Only pointers are kept (on the stack): frames
  // in static TLS would cost every thread of the host ~80 KB of its stack
  // (glibc refuses to start threads with small stacks).  The name ends at
  // the line's last '", line ': a '"' inside a file name is written as it
  // is.
  constexpr int kMax = 128;
  const char* starts[kMax];
  size_t lens[kMax];
  int n = 0;
  for (const char* p = text; *p && n < kMax;) {
    const char* eol = strchr(p, '\n');
    size_t len = eol ? size_t(eol - p) : strlen(p);
    const char* f = static_cast<const char*>(memmem(p, len, "File \"", 6));
    if (f && memmem(f + 6, len - (f + 6 - p), "\", line ", 8)) {
      starts[n] = p;
      lens[n] = len;
      n++;
    }
    p = eol ? eol + 1 : p + len;
  }
  for (int i = n - 1; i >= 0; i--) {
    const char* p = starts[i];
    size_t len = lens[i];
    const char* f = static_cast<const char*>(memmem(p, len, "File \"", 6)) + 6;
    const char* q = nullptr;
    for (const char* at = f; (at = static_cast<const char*>(memmem(at, len - (at - p), "\", line ", 8))); at++) q = at;
    PyFrame fr;
    py_unescape(f, size_t(q - f), fr.file, sizeof fr.file);
    fr.line = atoi(q + 8);
    fr.function[0] = 0;
    const char* in = static_cast<const char*>(memmem(q, len - (q - p), " in ", 4));
    if (in) py_unescape(in + 4, len - (in + 4 - p), fr.function, sizeof fr.function);
    fn(fr, ctx);
  }
  return n;
}

}  // namespace zg
