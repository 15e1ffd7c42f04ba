// SPDX-License-Identifier: MIT
// Interpreters other than Python whose frames a report shows (Ruby, Perl,
// PHP, Java): one row each in report/langs.def, one LangOps each in its own
// file (report/ruby.cpp, ...).  Everything a report does with such frames
// (the text, the JSON, SUMMARY's frame, suppressions) is here, once, over
// one text form: a first line naming the language ("ruby"), then a frame a
// line, most recent call first, "file\tline\tfunction".
//
// A language reads only the calling thread's frames, from inside a libzmq
// call, and never runs the interpreter's code or takes its global lock
// (doc/bindings.md says why for each).  A process without the interpreter
// pays one cheap check per record (a dl_iterate_phdr step when objects were
// loaded since the last look).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace zg {

struct TextBuf;

// How a frame's code relates to the program, best last: SUMMARY names the
// innermost frame of the best class (never a Runtime one); frames=user
// shows User frames and folds runs of the others.  Binding and Library
// are "library" in the JSON.
enum class ScriptClass : uint8_t { Runtime = 0, Binding = 1, Library = 2, User = 3 };

struct ScriptFrame {
  char file[512];
  int line;
  char function[256];  // "send_job", "main::send_job", "Worker.run": the language's own name
};

struct LangOps {
  const char* key;    // "ruby": the text's first line; JSON fields ruby_stack, owner_ruby_stack, ...
  const char* title;  // "Ruby backtrace": the report's title, before " of this thread"
  // One frame as the language prints it: %F file, %L line, %M function
  // (a frame whose line is below 1 prints without %L and the character
  // before it).
  // Ruby "%F:%L:in `%M'", Perl "%M called at %F line %L", ...
  const char* frame_format;
  // True when the interpreter is loaded, understood, and the option for it
  // is on; cheap when it is absent.
  bool (*running)();
  // The calling thread's frames, recorded for a later report (null: the
  // thread runs none).  Its text is made only when a report needs it, by
  // text() (malloc'd frame lines without the first line, or null), which
  // reads nothing of the interpreter's: any thread may call it at any time.
  void* (*record)();
  char* (*text)(const void* rec);
  void (*free_record)(void* rec);
  ScriptClass (*classify)(const char* file, const char* function);
  // A fold line's name for a frame that is not the program's ("ffi-rzmq",
  // "ZMQ::FFI"); null: the file's name without directory and extension.
  void (*short_name)(const char* file, const char* function, char* out, size_t size);
  void (*after_fork_child)();  // may be null
};

// A recorded stack of whichever interpreter the thread runs.
struct ScriptStack;
ScriptStack* script_record();
char* script_stack_text(const ScriptStack* st);  // malloc'd, with its first line, or null
void script_stack_free(ScriptStack* st);
void script_capture(ScriptStack** slot);  // *slot replaced by the calling thread's record
const char* script_stack_key(const ScriptStack* st);  // its language's key ("ruby"), or null
char* script_backtrace_current();           // script_stack_text(script_record())
void script_after_fork_child();

// For a language whose record is its text (record() returns the malloc'd
// frame lines): text() and free_record().
char* script_text_copy(const void* rec);
void script_text_free(void* rec);

// Over a text (any of these takes null):
// the language's ops, or null;
const LangOps* script_lang(const char* text);
// fn for each frame, most recent call first; the number of frames;
int script_frames(const char* text, void (*fn)(const ScriptFrame& f, void* ctx), void* ctx);
// the report's part, under a title made from the Python part's ("Python
// traceback of this thread" becomes "Ruby backtrace of this thread");
void script_text(TextBuf& b, const char* text, const char* python_title);
// the JSON fields "<key>_stack"-style, one per language: for field prefix
// "owner_", every language's "owner_<key>_stack":null but the text's own,
// an array of {"file","line","method","class"};
void script_json_fields(TextBuf& b, const char* prefix, const char* text);
// the frame SUMMARY names: the innermost of the best class; returns that
// class as a rank (3 User, 2 Library, 1 Binding), 0 when there is none.
int script_best_frame(const char* text, ScriptFrame* out);

// Every language, in langs.def order.
const LangOps* const* script_langs(size_t* n);

}  // namespace zg
