// SPDX-License-Identifier: MIT
#include "report/script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/options.h"
#include "report/late_lookup.h"
#include "report/text.h"

namespace zg {

#define ZG_LANG(key, ops) extern const LangOps ops;
#include "report/langs.def"
#undef ZG_LANG

__thread unsigned long long tls_loader_adds __attribute__((tls_model("initial-exec"))) = 0;
__thread int tls_loader_look __attribute__((tls_model("initial-exec"))) = 0;

namespace {

const LangOps* const kLangs[] = {
#define ZG_LANG(key, ops) &ops,
#include "report/langs.def"
#undef ZG_LANG
};
constexpr size_t kNumLangs = sizeof kLangs / sizeof kLangs[0];

// Frames of one stack the report shows; deeper ones are dropped (the
// languages record at most this many).
constexpr int kMaxListed = 100;

const char* class_name(ScriptClass c) {
  switch (c) {
    case ScriptClass::User: return "user";
    case ScriptClass::Library:
    case ScriptClass::Binding: return "library";  // the binding is a library to the program
    case ScriptClass::Runtime: return "runtime";
  }
  return "runtime";
}

}  // namespace

struct ScriptStack {
  const LangOps* lang;
  void* rec;
};

const LangOps* const* script_langs(size_t* n) {
  *n = kNumLangs;
  return kLangs;
}

const char* script_stack_key(const ScriptStack* st) { return st ? st->lang->key : nullptr; }

ScriptStack* script_record() {
  for (const LangOps* l : kLangs) {
    if (!l->running()) continue;
    void* rec = l->record();
    if (!rec) continue;
    auto* st = static_cast<ScriptStack*>(malloc(sizeof(ScriptStack)));
    if (!st) {
      l->free_record(rec);
      return nullptr;
    }
    *st = ScriptStack{l, rec};
    return st;
  }
  return nullptr;
}

char* script_stack_text(const ScriptStack* st) {
  if (!st) return nullptr;
  char* frames = st->lang->text(st->rec);
  if (!frames) return nullptr;
  TextBuf b;
  b.puts(st->lang->key);
  b.add("\n", 1);
  b.puts(frames);
  free(frames);
  return b.ok ? b.release() : nullptr;
}

void script_stack_free(ScriptStack* st) {
  if (st) st->lang->free_record(st->rec);
  free(st);
}

void script_capture(ScriptStack** slot) {
  ScriptStack* st = script_record();
  script_stack_free(*slot);
  *slot = st;
}

char* script_backtrace_current() {
  ScriptStack* st = script_record();
  char* text = script_stack_text(st);
  script_stack_free(st);
  return text;
}

void script_after_fork_child() {
  for (const LangOps* l : kLangs)
    if (l->after_fork_child) l->after_fork_child();
}

char* script_text_copy(const void* rec) { return rec ? strdup(static_cast<const char*>(rec)) : nullptr; }

void script_text_free(void* rec) { free(rec); }

const LangOps* script_lang(const char* text) {
  if (!text) return nullptr;
  const size_t n = strcspn(text, "\n");
  for (const LangOps* l : kLangs)
    if (strlen(l->key) == n && !strncmp(text, l->key, n)) return l;
  return nullptr;
}

int script_frames(const char* text, void (*fn)(const ScriptFrame& f, void* ctx), void* ctx) {
  int n = 0;
  for (const char* p = text; p && *p;) {
    const char* eol = strchr(p, '\n');
    size_t len = eol ? size_t(eol - p) : strlen(p);
    const char* tab1 = static_cast<const char*>(memchr(p, '\t', len));
    const char* tab2 = tab1 ? static_cast<const char*>(memchr(tab1 + 1, '\t', len - (tab1 + 1 - p))) : nullptr;
    if (tab2) {  // the first line (the language) has no tab
      ScriptFrame f;
      snprintf(f.file, sizeof f.file, "%.*s", static_cast<int>(tab1 - p), p);
      f.line = atoi(tab1 + 1);
      snprintf(f.function, sizeof f.function, "%.*s", static_cast<int>(len - (tab2 + 1 - p)), tab2 + 1);
      fn(f, ctx);
      n++;
    }
    p = eol ? eol + 1 : p + len;
  }
  return n;
}

namespace {

struct Listed {
  ScriptFrame frames[kMaxListed];
  ScriptClass cls[kMaxListed];
  int n = 0;
  const LangOps* lang;
};

Listed* list_frames(const char* text) {
  const LangOps* lang = script_lang(text);
  if (!lang) return nullptr;
  auto* l = static_cast<Listed*>(calloc(1, sizeof(Listed)));
  if (!l) return nullptr;
  l->lang = lang;
  script_frames(
      text,
      [](const ScriptFrame& f, void* ctx) {
        auto* l = static_cast<Listed*>(ctx);
        if (l->n == kMaxListed) return;
        l->cls[l->n] = l->lang->classify(f.file, f.function);
        l->frames[l->n++] = f;
      },
      l);
  return l;
}

// For a fold line: what the language calls the frame's package, or the
// file's name without its directory and extension.
void short_name(const LangOps* lang, const ScriptFrame& f, char* out, size_t size) {
  if (lang->short_name) {
    lang->short_name(f.file, f.function, out, size);
    return;
  }
  const char* slash = strrchr(f.file, '/');
  const char* p = slash ? slash + 1 : f.file;
  const char* dot = strrchr(p, '.');
  snprintf(out, size, "%.*s", static_cast<int>(dot && dot != p ? dot - p : strlen(p)), p);
}

// One frame as the language prints it (LangOps::frame_format).  A frame
// without a line (below 1: Java's native methods) has neither %L nor the
// character before it: "at %M(%F:%L)" gives "at C.m(Native Method)".
void put_frame(TextBuf& b, const char* format, const ScriptFrame& f) {
  for (const char* p = format; *p; p++) {
    if (f.line < 1 && p[0] && p[1] == '%' && p[2] == 'L') {
      p += 2;
      continue;
    }
    if (*p != '%' || !p[1]) {
      b.add(p, 1);
      continue;
    }
    switch (*++p) {
      case 'F': b.plain(f.file); break;
      case 'L': b.printf("%d", f.line); break;
      case 'M': b.plain(f.function); break;
      default: b.add(p - 1, 2); break;
    }
  }
}

}  // namespace

void script_text(TextBuf& b, const char* text, const char* python_title) {
  Listed* l = list_frames(text);
  if (!l) return;
  // With frames=user, the program's own frames; what they called and what
  // called them (the binding, the standard library) one counted line a run.
  // A backtrace without a frame of the program's own is shown whole.
  bool any_user = false;
  for (int i = 0; i < l->n; i++) any_user |= l->cls[i] == ScriptClass::User;
  const bool all = options().frames == 1 || !any_user;
  // The Python part's title, "Python traceback of this thread", in the
  // language's words: one title per place in the report.
  const char* tail = strstr(python_title, "traceback");
  b.printf("    %s%s (most recent call first):\n", l->lang->title, tail ? tail + 9 : "");
  for (int i = 0; i < l->n;) {
    if (all || l->cls[i] == ScriptClass::User) {
      b.puts("      ");
      put_frame(b, l->lang->frame_format, l->frames[i++]);
      b.puts("\n");
      continue;
    }
    int j = i;
    char names[3][64] = {};
    int k = 0;
    bool more = false;
    for (; j < l->n && l->cls[j] != ScriptClass::User; j++) {
      char name[64];
      short_name(l->lang, l->frames[j], name, sizeof name);
      bool seen = false;
      for (int m = 0; m < k; m++) seen |= !strcmp(names[m], name);
      if (seen) continue;
      if (k < 3) memcpy(names[k++], name, sizeof name);
      else more = true;
    }
    b.printf("      ... %d frame%s in ", j - i, j - i == 1 ? "" : "s");
    for (int m = 0; m < k; m++) {
      if (m) b.puts(", ");
      b.plain(names[m]);
    }
    b.puts(more ? ", ... (frames=all shows them)\n" : " (frames=all shows them)\n");
    i = j;
  }
  free(l);
}

void script_json_fields(TextBuf& b, const char* prefix, const char* text) {
  Listed* l = list_frames(text);
  for (const LangOps* lang : kLangs) {
    b.printf(",\"%s%s_stack\":", prefix, lang->key);
    if (!l || l->lang != lang) {
      b.puts("null");
      continue;
    }
    b.puts("[");
    for (int i = 0; i < l->n; i++) {
      if (i) b.puts(",");
      b.puts("{\"file\":");
      b.json_str(l->frames[i].file);
      b.printf(",\"line\":%d,\"method\":", l->frames[i].line);
      b.json_str(l->frames[i].function);
      b.printf(",\"class\":\"%s\"}", class_name(l->cls[i]));
    }
    b.puts("]");
  }
  free(l);
}

int script_best_frame(const char* text, ScriptFrame* out) {
  const LangOps* lang = script_lang(text);
  if (!lang) return 0;
  struct Best {
    const LangOps* lang;
    ScriptFrame* out;
    int rank;
  } best{lang, out, 0};
  script_frames(
      text,
      [](const ScriptFrame& f, void* ctx) {
        auto* b = static_cast<Best*>(ctx);
        int r = static_cast<int>(b->lang->classify(f.file, f.function));  // Runtime (0): never
        if (r > b->rank) {  // most recent first: the first of a rank is the innermost
          *b->out = f;
          b->rank = r;
        }
      },
      &best);
  return best.rank;
}

}  // namespace zg
