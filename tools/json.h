// SPDX-License-Identifier: MIT
// A small JSON reader for the findings files the guard writes (one object a
// line): enough of RFC 8259 to read them back, strict about what it
// accepts, bounded in nesting, never throwing.  The wrapper's merge
// (`zmq-guard report`) reads files a user names, so anything may come in.
#pragma once
#include <stddef.h>

#include <string>
#include <utility>
#include <vector>

namespace zgtool {

struct Json {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool boolean = false;
  double number = 0;
  std::string str;
  std::vector<Json> items;                            // Array
  std::vector<std::pair<std::string, Json>> fields;   // Object, in order

  // The member `key` of an object; a shared null for anything missing.
  const Json& operator[](const char* key) const;
  const Json& at(size_t i) const;
  size_t size() const { return type == Array ? items.size() : type == Object ? fields.size() : 0; }
  bool is_null() const { return type == Null; }
  // The string's text, or "" for anything that is not a string.
  const std::string& text() const;
  // The number as a long; fallback for anything else, a number out of
  // long's range included (1e400 reads as infinity: the cast would be
  // undefined, found by fuzz/fuzz_json.cpp).
  long integer(long fallback = 0) const {
    return type == Number && number > -9.2e18 && number < 9.2e18 ? static_cast<long>(number) : fallback;
  }
  bool truthy() const { return type == Bool && boolean; }
};

// Parses one JSON text (surrounding white space allowed).  On failure
// returns false and says where in *error.
bool json_parse(const char* text, size_t len, Json* out, std::string* error);

}  // namespace zgtool
