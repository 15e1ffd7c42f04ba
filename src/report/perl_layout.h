// SPDX-License-Identifier: MIT
// Where Perl 5.36's threaded build (MULTIPLICITY, USE_ITHREADS: Debian 12's
// perl, archname x86_64-linux-gnu-thread-multi) keeps the few fields the
// guard reads, as offsets in bytes.  These are the layouts every XS module
// built for 5.36 is compiled against (Perl's XS ABI is keyed by major
// version and configuration); report/perl.cpp uses them only for a Perl
// whose PL_version and PL_bincompat_options match, and only once a first
// read has agreed with Perl's own exported functions.
// tests/bindings/perl_layout.c checks every number against Perl's headers.
// C and C++: enumerators, no types of Perl's.
#pragma once

enum {
  // PerlInterpreter (intrpvar.h): PL_curcop, PL_curstackinfo, PL_rs (the
  // SV $/ is copied into)
  ZG_PL_INTERP_CURCOP = 208,
  ZG_PL_INTERP_CURSTACKINFO = 224,
  ZG_PL_INTERP_RS = 680,
  // PERL_SI (cop.h): the context stack, its top index and its size, the
  // stack level below (si_prev) and the level's kind (si_type, I32)
  ZG_PL_SI_CXSTACK = 8,
  ZG_PL_SI_PREV = 16,
  ZG_PL_SI_CXIX = 32,
  ZG_PL_SI_CXMAX = 36,
  ZG_PL_SI_TYPE = 44,
  ZG_PL_PERLSI_MAIN = 1,
  // PERL_CONTEXT (cop.h): cx_type (a U8: low 4 bits CXt_*, then flags),
  // blk_oldcop (where the sub or eval was entered from), blk_sub.cv
  ZG_PL_CX_SIZE = 104,
  ZG_PL_CX_TYPE = 0,
  ZG_PL_CX_OLDCOP = 16,
  ZG_PL_CX_SUB_CV = 72,
  ZG_PL_CXT_MASK = 0xf,
  ZG_PL_CXT_SUB = 9,
  ZG_PL_CXT_FORMAT = 10,
  ZG_PL_CXT_EVAL = 11,
  ZG_PL_CXP_SUB_RE_FAKE = 0x80,  // a sub's re-entry for a regex code block
  // OP (op.h): the 16 bits whose low 9 are op_type; COP: cop_line (U32),
  // cop_file (a char* under ithreads until 5.38)
  ZG_PL_OP_TYPE = 32,
  ZG_PL_OP_TYPE_MASK = 0x1ff,
  ZG_PL_OP_NEXTSTATE = 195,
  ZG_PL_OP_DBSTATE = 196,
  ZG_PL_COP_LINE = 36,
  ZG_PL_COP_FILE = 48,
  // SV (sv.h): sv_any (the body), sv_flags (low 8 bits: SVt_*), sv_u.svu_pv
  ZG_PL_SV_ANY = 0,
  ZG_PL_SV_FLAGS = 12,
  ZG_PL_SV_PV = 16,
  ZG_PL_SVT_MASK = 0xff,
  ZG_PL_SVF_ROK = 0x800,
  ZG_PL_SVT_PVCV = 13,
  // XPVCV (cv.h), the body of a CV: xcv_stash, xcv_gv_u (its GV, or its
  // name's HEK when CVf_NAMED), xcv_flags (U32)
  ZG_PL_CV_STASH = 32,
  ZG_PL_CV_GV = 56,
  ZG_PL_CV_FLAGS = 92,
};

// PL_bincompat_options of that build: the options that change the binary
// interface, as perl.c lists them.
#define ZG_PL_BINCOMPAT                                                                                   \
  " HAS_TIMES MULTIPLICITY PERLIO_LAYERS USE_64_BIT_ALL USE_64_BIT_INT USE_ITHREADS USE_LARGE_FILES " \
  "USE_LOCALE_COLLATE USE_LOCALE_NUMERIC USE_LOCALE_TIME USE_PERLIO USE_REENTRANT_API"
