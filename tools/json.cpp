// SPDX-License-Identifier: MIT
#include "json.h"

#include <stdlib.h>
#include <string.h>

namespace zgtool {
namespace {

// Deeper than anything the guard writes (4 levels); a hostile file cannot
// exhaust the stack.
constexpr int kMaxDepth = 64;

const Json& null_json() {
  static const Json j;
  return j;
}

struct Parser {
  const char* p;
  const char* end;
  const char* begin;
  std::string err;

  bool fail(const char* what) {
    if (err.empty()) err = std::string(what) + " at byte " + std::to_string(p - begin);
    return false;
  }
  void ws() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  }
  bool lit(const char* word) {
    size_t n = strlen(word);
    if (size_t(end - p) < n || memcmp(p, word, n) != 0) return fail("bad literal");
    p += n;
    return true;
  }
  static void put_utf8(std::string& s, unsigned cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | (cp >> 18));
      s += char(0x80 | ((cp >> 12) & 0x3F));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(unsigned* out) {
    if (end - p < 4) return fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
      char c = *p++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    *out = v;
    return true;
  }
  bool string(std::string* out) {
    if (p >= end || *p != '"') return fail("expected a string");
    p++;
    while (p < end && *p != '"') {
      unsigned char c = static_cast<unsigned char>(*p);
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') {
        *out += char(c);
        p++;
        continue;
      }
      if (++p >= end) break;
      char e = *p++;
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
              p += 2;
              if (!hex4(&lo)) return false;
              if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              else cp = 0xFFFD;
            } else {
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          put_utf8(*out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
    if (p >= end) return fail("unterminated string");
    p++;
    return true;
  }
  bool number(double* out) {
    const char* start = p;
    if (p < end && *p == '-') p++;
    if (p >= end || !(*p >= '0' && *p <= '9')) return fail("bad number");
    while (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))
      p++;
    std::string text(start, size_t(p - start));
    char* stop = nullptr;
    *out = strtod(text.c_str(), &stop);
    if (!stop || *stop) return fail("bad number");
    return true;
  }
  bool value(Json* out, int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    ws();
    if (p >= end) return fail("unexpected end");
    switch (*p) {
      case 'n': out->type = Json::Null; return lit("null");
      case 't': out->type = Json::Bool; out->boolean = true; return lit("true");
      case 'f': out->type = Json::Bool; out->boolean = false; return lit("false");
      case '"': out->type = Json::String; return string(&out->str);
      case '[': {
        out->type = Json::Array;
        p++;
        ws();
        if (p < end && *p == ']') {
          p++;
          return true;
        }
        for (;;) {
          out->items.emplace_back();
          if (!value(&out->items.back(), depth + 1)) return false;
          ws();
          if (p < end && *p == ',') {
            p++;
            continue;
          }
          if (p < end && *p == ']') {
            p++;
            return true;
          }
          return fail("expected ',' or ']'");
        }
      }
      case '{': {
        out->type = Json::Object;
        p++;
        ws();
        if (p < end && *p == '}') {
          p++;
          return true;
        }
        for (;;) {
          ws();
          std::string key;
          if (!string(&key)) return false;
          ws();
          if (p >= end || *p != ':') return fail("expected ':'");
          p++;
          out->fields.emplace_back(std::move(key), Json());
          if (!value(&out->fields.back().second, depth + 1)) return false;
          ws();
          if (p < end && *p == ',') {
            p++;
            continue;
          }
          if (p < end && *p == '}') {
            p++;
            return true;
          }
          return fail("expected ',' or '}'");
        }
      }
      default:
        out->type = Json::Number;
        return number(&out->number);
    }
  }
};

}  // namespace

const Json& Json::operator[](const char* key) const {
  if (type == Object)
    for (const auto& f : fields)
      if (f.first == key) return f.second;
  return null_json();
}

const Json& Json::at(size_t i) const { return type == Array && i < items.size() ? items[i] : null_json(); }

const std::string& Json::text() const {
  static const std::string empty;
  return type == String ? str : empty;
}

bool json_parse(const char* text, size_t len, Json* out, std::string* error) {
  Parser ps{text, text + len, text, {}};
  *out = Json();
  bool ok = ps.value(out, 0);
  if (ok) {
    ps.ws();
    if (ps.p != ps.end) ok = ps.fail("trailing text");
  }
  if (!ok && error) *error = ps.err;
  return ok;
}

}  // namespace zgtool
