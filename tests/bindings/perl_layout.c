// SPDX-License-Identifier: MIT
// src/report/perl_layout.h held against Perl's own headers (the perl the
// build found: Debian 12's 5.36, threaded).  Prints each number that
// differs and fails; a Perl of another version or build is not the one the
// table is for, and fails too (the guard refuses it at run time the same
// way: report/perl.cpp's understood()).
#include <EXTERN.h>
#include <perl.h>
#include <stdio.h>
#include <string.h>

#include "report/perl_layout.h"

static int bad;

static void same(const char* what, long ours, long perls) {
  if (ours == perls) return;
  printf("%s: perl_layout.h says %ld, Perl's headers %ld\n", what, ours, perls);
  bad = 1;
}

#define SAME(ours, perls) same(#ours, (long)(ours), (long)(perls))

int main(void) {
  SAME(PERL_REVISION, 5);
  SAME(PERL_VERSION, 36);
#if !defined(MULTIPLICITY) || !defined(USE_ITHREADS)
  same("threaded build (MULTIPLICITY, USE_ITHREADS)", 1, 0);
#endif
  SAME(ZG_PL_INTERP_CURCOP, offsetof(PerlInterpreter, Icurcop));
  SAME(ZG_PL_INTERP_CURSTACKINFO, offsetof(PerlInterpreter, Icurstackinfo));
  SAME(ZG_PL_INTERP_RS, offsetof(PerlInterpreter, Irs));
  SAME(ZG_PL_SI_CXSTACK, offsetof(PERL_SI, si_cxstack));
  SAME(ZG_PL_SI_PREV, offsetof(PERL_SI, si_prev));
  SAME(ZG_PL_SI_CXIX, offsetof(PERL_SI, si_cxix));
  SAME(ZG_PL_SI_TYPE, offsetof(PERL_SI, si_type));
  SAME(sizeof(((PERL_SI*)0)->si_type), 4);
  SAME(ZG_PL_PERLSI_MAIN, PERLSI_MAIN);
  SAME(ZG_PL_SI_CXMAX, offsetof(PERL_SI, si_cxmax));
  SAME(ZG_PL_CX_SIZE, sizeof(PERL_CONTEXT));
  SAME(ZG_PL_CX_TYPE, offsetof(PERL_CONTEXT, cx_type));
  SAME(ZG_PL_CX_OLDCOP, offsetof(PERL_CONTEXT, blk_oldcop));
  SAME(ZG_PL_CX_SUB_CV, offsetof(PERL_CONTEXT, blk_sub.cv));
  SAME(ZG_PL_CXT_MASK, CXTYPEMASK);
  SAME(ZG_PL_CXT_SUB, CXt_SUB);
  SAME(ZG_PL_CXT_FORMAT, CXt_FORMAT);
  SAME(ZG_PL_CXT_EVAL, CXt_EVAL);
  SAME(ZG_PL_CXP_SUB_RE_FAKE, CXp_SUB_RE_FAKE);
  SAME(sizeof(((PERL_CONTEXT*)0)->cx_type), 1);
  SAME(ZG_PL_OP_NEXTSTATE, OP_NEXTSTATE);
  SAME(ZG_PL_OP_DBSTATE, OP_DBSTATE);
  SAME(ZG_PL_COP_LINE, offsetof(COP, cop_line));
  SAME(ZG_PL_COP_FILE, offsetof(COP, cop_file));
  SAME(sizeof(((COP*)0)->cop_line), 4);
  SAME(sizeof(((XPVCV*)0)->xcv_flags), 4);
  SAME(ZG_PL_SV_ANY, offsetof(SV, sv_any));
  SAME(ZG_PL_SV_FLAGS, offsetof(SV, sv_flags));
  SAME(ZG_PL_SV_PV, offsetof(SV, sv_u));
  SAME(ZG_PL_SVT_PVCV, SVt_PVCV);
  SAME(ZG_PL_SVF_ROK, SVf_ROK);
  SAME(ZG_PL_CV_STASH, offsetof(XPVCV, xcv_stash));
  SAME(ZG_PL_CV_GV, offsetof(XPVCV, xcv_gv_u));
  SAME(ZG_PL_CV_FLAGS, offsetof(XPVCV, xcv_flags));
  {
    // op_type is a bit-field: set it in a blank op and find its bits.
    OP op;
    unsigned short bits;
    memset(&op, 0, sizeof op);
    op.op_type = OP_DBSTATE;
    memcpy(&bits, (const char*)&op + ZG_PL_OP_TYPE, sizeof bits);
    SAME(bits & ZG_PL_OP_TYPE_MASK, OP_DBSTATE);
    op.op_type = ZG_PL_OP_TYPE_MASK;
    memcpy(&bits, (const char*)&op + ZG_PL_OP_TYPE, sizeof bits);
    SAME(bits, ZG_PL_OP_TYPE_MASK);
  }
  // A byte-for-byte check of the binary options needs libperl itself
  // (PL_bincompat_options): test_bindings.py compares the running perl's.
  if (!bad) printf("perl_layout.h agrees with Perl %d.%d.%d's headers\n", PERL_REVISION, PERL_VERSION, PERL_SUBVERSION);
  return bad;
}
