// SPDX-License-Identifier: MIT
#include "report/text.h"

#include "report/python.h"
#include "report/symbolize.h"

namespace zg {

void TextBuf::stack(const Stack* s, const char* indent, int limit) {
  if (!s || s->n == 0) {
    printf("%s<no stack>\n", indent);
    return;
  }
  int n = s->n < limit ? s->n : limit;
  for (int i = 0; i < n; i++) {
    Frame f;
    symbolize(s->pc[i], true, &f);
    frame_line(i, s->pc[i], f, indent);
  }
  if (n < s->n) printf("%s... %d more native frames\n", indent, s->n - n);
}

void TextBuf::frame_line(int i, void* pc, const Frame& f, const char* indent) {
  const char* mod = strrchr(f.module, '/');
  mod = mod ? mod + 1 : f.module;
  printf("%s#%d %p", indent, i, pc);
  if (f.function[0]) printf(" in %s", f.function);
  if (f.file[0]) printf(" %s:%d", f.file, f.line);
  printf(" (%s+0x%lx)\n", mod[0] ? mod : "?", (unsigned long)f.offset);
}

void TextBuf::py(const char* text, const char* title, const char* indent) {
  if (!text) return;
  struct Ctx {
    TextBuf* b;
    const char* indent;
  } c{this, indent};
  printf("%s%s (most recent call last):\n", indent, title);
  py_frames(
      text,
      [](const PyFrame& f, void* p) {
        auto* c = static_cast<Ctx*>(p);
        c->b->printf("%s  File \"%s\", line %d, in %s\n", c->indent, f.file, f.line, f.function);
      },
      &c);
}

}  // namespace zg
