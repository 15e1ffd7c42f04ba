// SPDX-License-Identifier: MIT
// A stack recorded cheaply for a later report (Ruby's, Perl's, Java's): each frame
// an index into the language's InternTable (report/intern.h), whose entry
// holds the frame's text once, and its line.  Once the table is full, a
// record is its text instead.  The text is made only when a report needs
// it, from the table alone: any thread may make it at any time.
//
// An entry's text is "file\t" then "\tfunction", split where the line goes;
// a frame's line of text is "file\tline\tfunction\n" (report/script.h).
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/text.h"

namespace zg {

struct FrameRecord {
  char* text;  // when the table was full: the text itself
  int n;
  struct {
    uint32_t entry;
    int line;
  } frames[1];
};

// Room for n frames (n >= 1), none in it yet; null when out of memory.
inline FrameRecord* frame_record_new(int n) {
  auto* st = static_cast<FrameRecord*>(malloc(sizeof(FrameRecord) + sizeof(FrameRecord::frames[0]) * size_t(n - 1)));
  if (st) {
    st->text = nullptr;
    st->n = 0;
  }
  return st;
}

inline void frame_record_free(FrameRecord* st) {
  if (st) free(st->text);
  free(st);
}

// "\t<line>\t", without printf's cost.
inline void put_tab_line(TextBuf& b, int line) {
  char buf[16];
  char* e = buf + sizeof buf;
  char* p = e;
  *--p = '\t';
  unsigned u = static_cast<unsigned>(line < 0 ? -line : line);
  do *--p = static_cast<char>('0' + u % 10);
  while (u /= 10);
  if (line < 0) *--p = '-';
  *--p = '\t';
  b.add(p, size_t(e - p));
}

// One frame's line of text: "<text up to split>\t<line>\t<rest>\n".
inline void put_frame_line(TextBuf& b, const char* text, uint32_t split, int line) {
  b.add(text, split);
  put_tab_line(b, line);
  b.puts(text + split);
  b.add("\n", 1);
}

// The record finished: the text made once the table was full (full), kept;
// null when it holds no frame.
inline FrameRecord* frame_record_done(FrameRecord* st, TextBuf& full) {
  if (full.p && full.n) st->text = full.release();
  if (st->n == 0 && !st->text) {
    free(st);
    return nullptr;
  }
  return st;
}

// The frames of a record (its entries table's, each with text and split)
// as lines of text, into b.
template <typename Table>
void frame_record_put(TextBuf& b, const FrameRecord* st, const Table& table) {
  for (int i = 0; i < st->n; i++) {
    const auto& e = table.at(static_cast<int>(st->frames[i].entry));
    put_frame_line(b, e.text, e.split, st->frames[i].line);
  }
}

// A record's text (malloc'd), or null.
template <typename Table>
char* frame_record_text(const FrameRecord* st, const Table& table) {
  if (!st) return nullptr;
  if (st->text) return strdup(st->text);
  if (table.empty()) return nullptr;
  TextBuf b;
  frame_record_put(b, st, table);
  return b.ok && b.n ? b.release() : nullptr;
}

}  // namespace zg
