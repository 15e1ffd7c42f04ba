// SPDX-License-Identifier: MIT
// Where reports go: text to stderr or log_path, JSON lines to json_path and
// to the zmq-guard wrapper's session (options_session()).
// One report at a time (a process-wide lock); every write is a write(2) of
// a whole block, flushed at once, so a crash right after loses nothing.
// The files are opened (O_APPEND, %p expanded for this process) by
// sink_lock and closed by sink_unlock: nothing stays open between reports.
#pragma once
#include <stddef.h>

namespace zg {

void sink_lock();
void sink_unlock();
void sink_write_text(const char* data, size_t len);
void sink_write_json(const char* data, size_t len);  // one line, newline added
bool sink_has_json();
// To the session only: what json_path has never carried (suppressed
// findings) stays out of it.
void sink_write_session(const char* data, size_t len);
// One line to the text sink (stderr by default), printf style.
void sink_notice(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void sink_after_fork_child();

}  // namespace zg
