// SPDX-License-Identifier: MIT
#include "report/unwind.h"

#include <execinfo.h>
#include <string.h>

#if ZG_FAST_UNWIND
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <unwind.h>

#include <atomic>

#include "report/intern.h"
#endif

namespace zg {
namespace {

// backtrace() from the frame whose return address is first: the frames
// before it (this file's own, and AddressSanitizer's interceptor where
// there is one) dropped.
int backtrace_from(void** out, int max, const void* first) {
  constexpr int kSkip = 3;
  void* raw[80 + kSkip];
  if (max > 80) max = 80;
  int n = backtrace(raw, max + kSkip);
  int i = 0;
  while (i < kSkip && i < n && raw[i] != first) i++;
  if (i == kSkip || i == n) i = 1;
  if (n - i > max) n = i + max;
  if (n <= i) return 0;
  memcpy(out, raw + i, sizeof(void*) * static_cast<size_t>(n - i));
  return n - i;
}

}  // namespace
}  // namespace zg

#if !ZG_FAST_UNWIND

extern "C" int zg_unwind_backtrace(void** out, int max, bool) {
  return zg::backtrace_from(out, max, __builtin_return_address(0));
}

namespace zg {
void unwind_warm_up() {
  void* tmp[4];
  backtrace(tmp, 4);
}
void unwind_after_fork_child() {}
UnwindStats unwind_stats() { return {0, 0, 0}; }

#else

namespace zg {

// How the walk works.  A frame is (ip, sp, bp): its return address, the
// stack pointer it has after its callee returned, and its rbp.  The rule of
// ip, read from the FDE that covers ip - 1 (.eh_frame, found through
// _dl_find_object and the .eh_frame_hdr search table), says where the
// caller's frame is: CFA = sp + k or bp + k; the caller's ip is at CFA - 8,
// its sp is CFA, its bp is bp or loaded from CFA + m.  Rules are cached per
// return address in an add-only table, and a rule enters the table only
// after it gave, in a real capture, what libgcc's own unwinder found for the
// same frame: the same CFA, the same caller and the same rbp.  So the walk
// follows only rules that libgcc confirmed; at the first return address
// without one, at a signal frame (no rule: libgcc's own walk goes on from
// the signal context) or at any step that leaves the thread's stack, the
// whole capture is made again by libgcc (_Unwind_Backtrace, the unwinder
// behind glibc's backtrace(), the very same copy: libgcc_s), which also
// checks and caches the rules it meets.  What comes out is always exactly
// what backtrace() would give: the frame-for-frame copy of its loop below
// (kept in step with glibc 2.36's debug/backtrace.c: the NULL frame libgcc
// reports above the thread's start dropped, the same end when a frame makes
// no progress) is the slow path; tests/unit/test_unwind.cpp compares both
// over recursion, alloca frames, libzmq, signal handlers, lambdas and code
// built without frame pointers.
//
// An object unloaded and another loaded at the same address: a rule is
// keyed by its return address and the link map and start address of its
// object, which the walk asks _dl_find_object (lock-free) for each run of
// frames in one object; a frame whose object is not the rule's misses and
// takes libgcc's path.  (A new object whose link map has the freed one's
// address, loaded at the same start, would pass: not seen, and its rules
// would still be checked against libgcc before they are cached; a stale
// rule of the old object at the same return address is what could be
// followed.  The table keeps the old rules, so a process that reloads
// libraries many times fills it and walks the rest with libgcc.)

using TraceFn = _Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void*);
using GetIpInfoFn = _Unwind_Ptr (*)(struct _Unwind_Context*, int*);
using GetWordFn = _Unwind_Word (*)(struct _Unwind_Context*);
using GetGrFn = _Unwind_Word (*)(struct _Unwind_Context*, int);

namespace {

constexpr int kRegBp = 6, kRegSp = 7, kRegRa = 16;
// The most frames one walk gives (stack_capture asks for at most 80): the
// slow walk keeps a record of each on the stack, about 70 bytes.
constexpr int kMaxWalk = 80;

struct Libgcc {
  TraceFn trace;
  GetIpInfoFn ip_info;
  GetWordFn cfa;
  GetGrFn gr;
};
// 0: not looked up; 2: being looked up (captures meanwhile take
// backtrace()); 1: looked up (g_gcc.trace null when it was not found).
// g_gcc is written once, before the release store of 1.
std::atomic<int> g_gcc_state{0};
Libgcc g_gcc;

enum RuleKind : uint8_t { kCfaSp, kCfaBp, kOutermost };

struct Rule {
  uintptr_t ip;
  const void* map;  // the object's link map and start, as _dl_find_object says
  uintptr_t map_start;
  int32_t cfa_off;
  int32_t bp_off;
  uint8_t kind;
  uint8_t bp_saved;
};

// 4,096 return addresses: a program's distinct call sites on the paths
// that create sockets or change their owners.  Full: the rest take
// libgcc's walk.
constexpr unsigned kMaxRules = 4096;
InternTable<Rule, kMaxRules> g_rules;
std::atomic<unsigned> g_rule_count{0};

struct ThreadStack {
  uintptr_t lo, hi;
  int state;  // 0: not asked; 1: known; -1: unknown (libgcc's walk)
  unsigned long fast, slow;
};
__thread ThreadStack tls_stack __attribute__((tls_model("initial-exec")));

// ---------------------------------------------------------------------------
// Reading .eh_frame

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool need(size_t n) {
    if (!ok || static_cast<size_t>(end - p) < n) ok = false;
    return ok;
  }
  uint8_t u8() {
    if (!need(1)) return 0;
    return *p++;
  }
  template <typename T>
  T fixed() {
    T v{};
    if (!need(sizeof v)) return v;
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  int64_t sleb() {
    uint64_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
      if (shift >= 64) {
        ok = false;
        return 0;
      }
      b = u8();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= ~static_cast<uint64_t>(0) << shift;
    return static_cast<int64_t>(v);
  }
  // A DW_EH_PE-encoded pointer; datarel is relative to data_base.  Indirect
  // pointers are not followed (only a personality routine uses them, and
  // its value is skipped).
  uintptr_t encoded(uint8_t enc, uintptr_t data_base) {
    if (enc == 0xff) return 0;  // omit
    uintptr_t at = reinterpret_cast<uintptr_t>(p);
    uintptr_t v;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<uint16_t>(); break;
      case 0x03: v = fixed<uint32_t>(); break;
      case 0x04: v = fixed<uint64_t>(); break;
      case 0x09: v = static_cast<uintptr_t>(sleb()); break;
      case 0x0a: v = static_cast<uintptr_t>(static_cast<intptr_t>(fixed<int16_t>())); break;
      case 0x0b: v = static_cast<uintptr_t>(static_cast<intptr_t>(fixed<int32_t>())); break;
      case 0x0c: v = fixed<uint64_t>(); break;
      default: ok = false; return 0;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += at; break;         // pcrel
      case 0x30: v += data_base; break;  // datarel
      default: ok = false; return 0;     // textrel, funcrel, aligned
    }
    return v;
  }
};

// The register rules this walk can follow, as the CFA program leaves them.
struct RegState {
  int cfa_reg = -1;
  int64_t cfa_off = 0;
  // 0: unchanged, 1: at CFA + off, 2: undefined, 3: anything else
  uint8_t bp_how = 0, ra_how = 3, sp_how = 0;
  int64_t bp_off = 0, ra_off = 0;
};

struct Cie {
  uint64_t code_align;
  int64_t data_align;
  uint8_t fde_enc = 0;  // absptr
  bool has_z = false;
  const uint8_t* insns;
  const uint8_t* end;
};

// The length field of a CIE or FDE at p; false for the 64-bit form and the
// terminator (neither appears in x86-64 .eh_frame).
bool entry_bounds(const uint8_t* p, const uint8_t* limit, const uint8_t** body, const uint8_t** end) {
  if (limit - p < 8) return false;
  uint32_t len;
  memcpy(&len, p, 4);
  if (len == 0 || len == 0xffffffffu || len > static_cast<uintptr_t>(limit - p - 4)) return false;
  *body = p + 4;
  *end = p + 4 + len;
  return true;
}

bool parse_cie(const uint8_t* p, const uint8_t* limit, Cie* cie) {
  const uint8_t *body, *end;
  if (!entry_bounds(p, limit, &body, &end)) return false;
  Reader r{body, end};
  if (r.fixed<uint32_t>() != 0) return false;  // a CIE's id
  uint8_t version = r.u8();
  if (version != 1 && version != 3) return false;
  const char* aug = reinterpret_cast<const char*>(r.p);
  size_t aug_len = strnlen(aug, static_cast<size_t>(end - r.p));
  if (!r.need(aug_len + 1)) return false;
  r.p += aug_len + 1;
  cie->code_align = r.uleb();
  cie->data_align = r.sleb();
  uint64_t ra = version == 1 ? r.u8() : r.uleb();
  if (ra != kRegRa) return false;
  for (size_t i = 0; i < aug_len && r.ok; i++) {
    switch (aug[i]) {
      case 'z':
        if (i != 0) return false;
        cie->has_z = true;
        r.uleb();  // the augmentation data's length: each letter reads its own
        break;
      case 'L': r.u8(); break;
      case 'R': cie->fde_enc = r.u8(); break;
      case 'P': {
        uint8_t enc = r.u8();
        r.encoded(enc & 0x7f, 0);  // the routine's address: skipped
        break;
      }
      default: return false;  // 'S' (a signal frame) and anything unknown
    }
  }
  if (!r.ok) return false;
  cie->insns = r.p;
  cie->end = end;
  return true;
}

// Runs a CFA program until the location passes pc (libgcc's condition:
// instructions run while loc < ip, the return address).  False for anything
// this walk does not follow.
bool run_cfa(const uint8_t* p, const uint8_t* end, const Cie& cie, const RegState& initial, uintptr_t* loc,
             uintptr_t ip, RegState* s) {
  RegState stack[8];
  int depth = 0;
  Reader r{p, end};
  auto set_reg = [&](uint64_t reg, uint8_t how, int64_t off) {
    if (reg == kRegBp) {
      s->bp_how = how;
      s->bp_off = off;
    } else if (reg == kRegRa) {
      s->ra_how = how;
      s->ra_off = off;
    } else if (reg == kRegSp) {
      s->sp_how = how == 0 ? 0 : 3;
    }
  };
  auto restore_reg = [&](uint64_t reg) {
    if (reg == kRegBp) {
      s->bp_how = initial.bp_how;
      s->bp_off = initial.bp_off;
    } else if (reg == kRegRa) {
      s->ra_how = initial.ra_how;
      s->ra_off = initial.ra_off;
    } else if (reg == kRegSp) {
      s->sp_how = initial.sp_how;
    }
  };
  while (r.p < end && *loc < ip) {
    uint8_t op = r.u8();
    uint8_t low = op & 0x3f;
    switch (op >> 6) {
      case 1: *loc += low * cie.code_align; continue;                                  // advance_loc
      case 2: set_reg(low, 1, static_cast<int64_t>(r.uleb()) * cie.data_align); continue;  // offset
      case 3: restore_reg(low); continue;                                              // restore
      default: break;
    }
    switch (op) {
      case 0x00: break;                                              // nop
      case 0x01: *loc = r.encoded(cie.fde_enc, 0); break;            // set_loc
      case 0x02: *loc += r.u8() * cie.code_align; break;             // advance_loc1
      case 0x03: *loc += r.fixed<uint16_t>() * cie.code_align; break;  // advance_loc2
      case 0x04: *loc += r.fixed<uint32_t>() * cie.code_align; break;  // advance_loc4
      case 0x05: {                                                   // offset_extended
        uint64_t reg = r.uleb();
        set_reg(reg, 1, static_cast<int64_t>(r.uleb()) * cie.data_align);
        break;
      }
      case 0x06: restore_reg(r.uleb()); break;  // restore_extended
      case 0x07: set_reg(r.uleb(), 2, 0); break;  // undefined
      case 0x08: set_reg(r.uleb(), 0, 0); break;  // same_value
      case 0x09: {                                // register
        uint64_t reg = r.uleb();
        r.uleb();
        set_reg(reg, 3, 0);
        break;
      }
      case 0x0a:  // remember_state
        if (depth == 8) return false;
        stack[depth++] = *s;
        break;
      case 0x0b:  // restore_state: the CFA rule too (as libgcc, and DWARF 5 says)
        if (depth == 0) return false;
        *s = stack[--depth];
        break;
      case 0x0c:  // def_cfa
        s->cfa_reg = static_cast<int>(r.uleb());
        s->cfa_off = static_cast<int64_t>(r.uleb());
        break;
      case 0x0d: s->cfa_reg = static_cast<int>(r.uleb()); break;         // def_cfa_register
      case 0x0e: s->cfa_off = static_cast<int64_t>(r.uleb()); break;     // def_cfa_offset
      case 0x11: {                                                       // offset_extended_sf
        uint64_t reg = r.uleb();
        set_reg(reg, 1, r.sleb() * cie.data_align);
        break;
      }
      case 0x12:  // def_cfa_sf
        s->cfa_reg = static_cast<int>(r.uleb());
        s->cfa_off = r.sleb() * cie.data_align;
        break;
      case 0x13: s->cfa_off = r.sleb() * cie.data_align; break;  // def_cfa_offset_sf
      case 0x10:                                                 // expression
      case 0x16: {                                               // val_expression
        uint64_t reg = r.uleb();
        uint64_t len = r.uleb();
        if (!r.need(len)) return false;
        r.p += len;
        set_reg(reg, 3, 0);
        break;
      }
      case 0x14:  // val_offset
      case 0x15: {  // val_offset_sf
        uint64_t reg = r.uleb();
        if (op == 0x14) r.uleb(); else r.sleb();
        set_reg(reg, 3, 0);
        break;
      }
      case 0x2e: r.uleb(); break;  // GNU_args_size: no effect on the CFA
      default: return false;       // def_cfa_expression and anything unknown
    }
    if (!r.ok) return false;
  }
  return r.ok;
}

// The rule of return address ip, read from the .eh_frame of its object.
bool derive_rule(uintptr_t ip, const struct dl_find_object& dlfo, Rule* out) {
  if (!dlfo.dlfo_eh_frame) return false;
  uintptr_t pc = ip - 1;
  const uint8_t* lo = static_cast<const uint8_t*>(dlfo.dlfo_map_start);
  const uint8_t* hi = static_cast<const uint8_t*>(dlfo.dlfo_map_end);
  const uint8_t* hdr = static_cast<const uint8_t*>(dlfo.dlfo_eh_frame);
  if (hdr < lo || hdr >= hi) return false;
  // .eh_frame_hdr: version, three encodings, eh_frame_ptr, fde_count, then
  // the sorted (initial location, FDE address) pairs.
  Reader r{hdr, hi};
  uint8_t version = r.u8(), ptr_enc = r.u8(), count_enc = r.u8(), table_enc = r.u8();
  if (!r.ok || version != 1 || table_enc != 0x3b) return false;  // datarel | sdata4
  uintptr_t base = reinterpret_cast<uintptr_t>(hdr);
  r.encoded(ptr_enc, base);
  uintptr_t count = r.encoded(count_enc, base);
  if (!r.ok || count == 0 || count > static_cast<uintptr_t>(hi - r.p) / 8) return false;
  const uint8_t* table = r.p;
  auto loc_at = [&](uintptr_t i) {
    int32_t v;
    memcpy(&v, table + 8 * i, 4);
    return base + static_cast<intptr_t>(v);
  };
  uintptr_t a = 0, b = count;  // the last entry whose location <= pc
  if (loc_at(0) > pc) return false;
  while (b - a > 1) {
    uintptr_t m = a + (b - a) / 2;
    if (loc_at(m) <= pc) a = m; else b = m;
  }
  int32_t fde_rel;
  memcpy(&fde_rel, table + 8 * a + 4, 4);
  const uint8_t* fde = reinterpret_cast<const uint8_t*>(base + static_cast<intptr_t>(fde_rel));
  if (fde < lo || fde >= hi) return false;
  const uint8_t *body, *end;
  if (!entry_bounds(fde, hi, &body, &end)) return false;
  uint32_t cie_rel;
  memcpy(&cie_rel, body, 4);
  if (cie_rel == 0) return false;  // that is a CIE
  const uint8_t* cie_at = body - cie_rel;
  if (cie_at < lo || cie_at >= hi) return false;
  Cie cie;
  if (!parse_cie(cie_at, hi, &cie)) return false;
  Reader f{body + 4, end};
  uintptr_t pc_begin = f.encoded(cie.fde_enc, 0);
  uintptr_t pc_range = f.encoded(cie.fde_enc & 0x0f, 0);
  if (!f.ok || pc < pc_begin || pc - pc_begin >= pc_range) return false;
  if (cie.has_z) {
    uint64_t len = f.uleb();
    if (!f.need(len)) return false;
    f.p += len;
  }
  RegState initial;
  uintptr_t loc = pc_begin;
  if (!run_cfa(cie.insns, cie.end, cie, initial, &loc, ip, &initial)) return false;
  RegState s = initial;
  loc = pc_begin;
  if (!run_cfa(f.p, end, cie, initial, &loc, ip, &s)) return false;
  out->ip = ip;
  out->map = dlfo.dlfo_link_map;
  out->map_start = reinterpret_cast<uintptr_t>(dlfo.dlfo_map_start);
  out->bp_saved = 0;
  out->bp_off = 0;
  out->cfa_off = 0;
  if (s.ra_how == 2) {  // the thread's outermost frame (_start, clone3)
    out->kind = kOutermost;
    return true;
  }
  if (s.ra_how != 1 || s.ra_off != -8 || s.sp_how != 0) return false;
  if (s.cfa_reg == kRegSp) out->kind = kCfaSp;
  else if (s.cfa_reg == kRegBp) out->kind = kCfaBp;
  else return false;
  if (s.cfa_off < 8 || s.cfa_off > (1 << 30)) return false;
  out->cfa_off = static_cast<int32_t>(s.cfa_off);
  if (s.bp_how == 1) {
    if (s.bp_off >= 0 || s.bp_off < -(1 << 30)) return false;
    out->bp_saved = 1;
    out->bp_off = static_cast<int32_t>(s.bp_off);
  } else if (s.bp_how != 0) {
    return false;
  }
  return true;
}

// The rule of return address ip in the object of link map map, loaded at
// start: an object unloaded and another loaded at its address do not share
// rules.
const Rule* find_rule(uintptr_t ip, const void* map, uintptr_t start) {
  int i = g_rules.find(ip, [=](const Rule& e) { return e.ip == ip && e.map == map && e.map_start == start; });
  return i < 0 ? nullptr : &g_rules.at(i);
}

// ---------------------------------------------------------------------------
// The walks

bool stack_bounds(bool may_init, uintptr_t sp, uintptr_t* hi) {
  ThreadStack& t = tls_stack;
  if (t.state == 0) {
    if (!may_init) return false;
    t.state = -1;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
        t.lo = reinterpret_cast<uintptr_t>(addr);
        t.hi = t.lo + size;
        t.state = 1;
      }
      pthread_attr_destroy(&attr);
    }
  }
  if (t.state != 1 || sp < t.lo || sp >= t.hi) return false;  // another stack: a signal's, a fiber's
  *hi = t.hi;
  return true;
}

// Follows cached rules from (ip, sp, bp); -1 at the first frame without
// one or a step that leaves [sp, hi).  Reads only the stack between the
// caller's stack pointer and the top of the thread's stack.
__attribute__((no_sanitize("address"))) int fast_walk(void** out, int max, uintptr_t ip, uintptr_t sp,
                                                      uintptr_t bp, uintptr_t hi) {
  int n = 0;
  // The object of the frames just walked: consecutive frames in one object
  // ask _dl_find_object once.
  uintptr_t obj_lo = 1, obj_hi = 0;
  const void* obj_map = nullptr;
  for (;;) {
    if (ip - 1 < obj_lo || ip - 1 >= obj_hi) {
      struct dl_find_object dlfo;
      if (_dl_find_object(reinterpret_cast<void*>(ip - 1), &dlfo) != 0) return -1;
      obj_lo = reinterpret_cast<uintptr_t>(dlfo.dlfo_map_start);
      obj_hi = reinterpret_cast<uintptr_t>(dlfo.dlfo_map_end);
      obj_map = dlfo.dlfo_link_map;
    }
    const Rule* r = find_rule(ip, obj_map, obj_lo);
    if (!r) return -1;
    out[n++] = reinterpret_cast<void*>(ip);
    if (n == max || r->kind == kOutermost) return n;
    uintptr_t cfa = (r->kind == kCfaSp ? sp : bp) + static_cast<uintptr_t>(static_cast<intptr_t>(r->cfa_off));
    if (cfa <= sp || cfa > hi || cfa - 8 < sp) return -1;
    if (r->bp_saved) {
      uintptr_t at = cfa + static_cast<uintptr_t>(static_cast<intptr_t>(r->bp_off));
      if (at < sp || at + 8 > hi) return -1;
      bp = *reinterpret_cast<const uintptr_t*>(at);
    }
    ip = *reinterpret_cast<const uintptr_t*>(cfa - 8);
    sp = cfa;
    if (ip == 0) return n;  // above the thread's start: backtrace() drops it
  }
}

struct SlowFrame {
  uintptr_t ip, sp, bp;
  bool signal, bp_known, derived, cached;
  Rule rule;
};

struct SlowArg {
  void** out;
  int max;
  int n;
  uintptr_t sp0;
  uintptr_t last_cfa;
  bool learn;
  bool bp_known;
  SlowFrame frames[kMaxWalk + 2];
  int nf;
};


_Unwind_Reason_Code slow_step(struct _Unwind_Context* ctx, void* p) {
  SlowArg* a = static_cast<SlowArg*>(p);
  int signal = 0;
  uintptr_t ip = g_gcc.ip_info(ctx, &signal);
  uintptr_t cfa = g_gcc.cfa(ctx);
  if (cfa < a->sp0) return _URC_NO_REASON;  // the unwinder's own frames
  if (a->learn && a->nf < static_cast<int>(sizeof a->frames / sizeof a->frames[0])) {
    SlowFrame& f = a->frames[a->nf++];
    f.ip = ip;
    f.sp = cfa;
    f.signal = signal != 0;
    // libgcc's rbp of this frame.  _Unwind_GetGR reads it where libgcc
    // keeps it, a pointer that only rules of the kinds this walk follows
    // (saved at CFA + m, or unchanged) are sure to leave set: after a frame
    // with any other rule (or none known), rbp is not asked again.
    f.bp_known = a->bp_known;
    f.bp = f.bp_known ? static_cast<uintptr_t>(g_gcc.gr(ctx, kRegBp)) : 0;
    f.derived = false;
    f.cached = false;
    struct dl_find_object dlfo;
    if (!f.signal && _dl_find_object(reinterpret_cast<void*>(ip - 1), &dlfo) == 0) {
      const Rule* known = find_rule(ip, dlfo.dlfo_link_map, reinterpret_cast<uintptr_t>(dlfo.dlfo_map_start));
      if (known) f.rule = *known;
      f.cached = known != nullptr;
      f.derived = f.cached || derive_rule(ip, dlfo, &f.rule);
    }
    if (!f.derived) a->bp_known = false;
  }
  if (a->n == a->max) return _URC_END_OF_STACK;  // the frame after the last: for checking its rule
  // glibc's backtrace_helper, step for step.
  a->out[a->n] = reinterpret_cast<void*>(ip);
  if (a->n > 0 && a->out[a->n - 1] == a->out[a->n] && cfa == a->last_cfa) {
    if (a->learn) a->nf--;  // not a frame backtrace() keeps
    return _URC_END_OF_STACK;
  }
  a->last_cfa = cfa;
  a->n++;
  return _URC_NO_REASON;
}

// Checks the rule of every frame libgcc found that has none cached yet,
// and caches those that agree with it.  (Not instrumented: a rule that is
// wrong may point into another frame's locals before the check drops it.)
__attribute__((no_sanitize("address"))) void learn(const SlowArg& a, bool reached_end) {
  for (int k = 0; k < a.nf; k++) {
    const SlowFrame& f = a.frames[k];
    if (!f.derived || f.cached) continue;
    const Rule& rule = f.rule;
    bool good;
    if (rule.kind == kOutermost) {
      // libgcc's walk ends here, or gives one more frame, ip 0, that
      // backtrace() drops (also when it was the frame after the last).
      good = (reached_end && k == a.nf - 1) || (k == a.nf - 2 && a.frames[k + 1].ip == 0);
    } else if (k + 1 >= a.nf || !f.bp_known || !a.frames[k + 1].bp_known) {
      good = false;
    } else {
      const SlowFrame& up = a.frames[k + 1];
      uintptr_t cfa = (rule.kind == kCfaSp ? f.sp : f.bp) + static_cast<uintptr_t>(static_cast<intptr_t>(rule.cfa_off));
      // libgcc read the caller's ip at cfa - 8 of this same frame: with the
      // same CFA, the same word.
      good = cfa == up.sp && cfa > f.sp && *reinterpret_cast<const uintptr_t*>(cfa - 8) == up.ip;
      if (good && rule.bp_saved) {
        uintptr_t at = cfa + static_cast<uintptr_t>(static_cast<intptr_t>(rule.bp_off));
        good = at >= f.sp && at + 8 <= cfa && *reinterpret_cast<const uintptr_t*>(at) == up.bp;
      } else if (good) {
        good = f.bp == up.bp;
      }
    }
    if (good)
      g_rules.intern(
          rule.ip, [&](const Rule& e) { return e.ip == rule.ip && e.map == rule.map && e.map_start == rule.map_start; },
          [&](Rule* e) {
            *e = rule;
            g_rule_count.fetch_add(1, std::memory_order_relaxed);
            return true;
          });
  }
}

// libgcc's walk; may_init false (a signal handler): nothing is cached (the
// table's first rule allocates it, and adding takes its mutex).
__attribute__((noinline)) int slow_walk(void** out, int max, uintptr_t sp0, bool may_init) {
  SlowArg a;
  a.out = out;
  a.max = max;
  a.n = 0;
  a.sp0 = sp0;
  a.last_cfa = 0;
  a.nf = 0;
  // A full table learns nothing more: no rule is read or checked.
  a.learn = may_init && g_rule_count.load(std::memory_order_relaxed) < kMaxRules;
  // The frames below the caller's, which libgcc walked first, are the
  // guard's own, compiled code whose rbp rules are the plain kinds.
  a.bp_known = true;
  _Unwind_Reason_Code rc = g_gcc.trace(slow_step, &a);
  // glibc: "_Unwind_Backtrace seems to put NULL address above _start".
  int n = a.n;
  if (n > 1 && out[n - 1] == nullptr) n--;
  if (may_init) learn(a, rc == _URC_END_OF_STACK);
  asm volatile("" ::: "memory");  // keeps this frame (no tail call): sp0 depends on it
  return n;
}

void load_libgcc() {
  int expected = 0;
  if (!g_gcc_state.compare_exchange_strong(expected, 2)) return;
  void* tmp[4];
  backtrace(tmp, 4);  // loads libgcc_s, as the first backtrace() of a process does
  void* h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (h) {
    Libgcc l;
    l.trace = reinterpret_cast<TraceFn>(dlsym(h, "_Unwind_Backtrace"));
    l.ip_info = reinterpret_cast<GetIpInfoFn>(dlsym(h, "_Unwind_GetIPInfo"));
    l.cfa = reinterpret_cast<GetWordFn>(dlsym(h, "_Unwind_GetCFA"));
    l.gr = reinterpret_cast<GetGrFn>(dlsym(h, "_Unwind_GetGR"));
    if (l.trace && l.ip_info && l.cfa && l.gr) g_gcc = l;
  }
  g_gcc_state.store(1, std::memory_order_release);
}

}  // namespace

extern "C" int zg_unwind_entry(void** out, int max, bool may_init, uintptr_t ip, uintptr_t sp, uintptr_t bp);

// The caller's registers as they are at its call: its return address, its
// stack pointer after the return and its rbp, then on to the C++ part with
// no frame of its own (a jump), so that the walk starts at the caller.
asm(R"(
  .pushsection .text
  .p2align 4
  .globl zg_unwind_backtrace
  .hidden zg_unwind_backtrace
  .type zg_unwind_backtrace, @function
zg_unwind_backtrace:
  .cfi_startproc
  movq (%rsp), %rcx
  leaq 8(%rsp), %r8
  movq %rbp, %r9
  jmp zg_unwind_entry
  .cfi_endproc
  .size zg_unwind_backtrace, .-zg_unwind_backtrace
  .popsection
)");

extern "C" __attribute__((visibility("hidden"))) int zg_unwind_entry(void** out, int max, bool may_init,
                                                                      uintptr_t ip, uintptr_t sp, uintptr_t bp) {
  if (max <= 0) return 0;
  if (max > kMaxWalk) max = kMaxWalk;
  if (g_gcc_state.load(std::memory_order_acquire) != 1 && may_init) load_libgcc();
  if (g_gcc_state.load(std::memory_order_acquire) != 1 || !g_gcc.trace) {
    // Not loaded yet (another thread is loading it), or no libgcc_s to
    // call: backtrace() itself, without this frame.
    return backtrace_from(out, max, reinterpret_cast<void*>(ip));
  }
  uintptr_t hi;
  if (stack_bounds(may_init, sp, &hi)) {
    int n = fast_walk(out, max, ip, sp, bp, hi);
    if (n >= 0) {
      tls_stack.fast++;
      return n;
    }
  }
  tls_stack.slow++;
  return slow_walk(out, max, sp, may_init);
}

void unwind_warm_up() { load_libgcc(); }

void unwind_after_fork_child() { g_rules.after_fork_child(); }

UnwindStats unwind_stats() { return {tls_stack.fast, tls_stack.slow, g_rule_count.load(std::memory_order_relaxed)}; }

#endif

}  // namespace zg
