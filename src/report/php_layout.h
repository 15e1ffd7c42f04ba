/* SPDX-License-Identifier: MIT */
/* PHP 8.2's layout (Zend Engine 4.2, NTS, x86-64): the offsets the guard's
 * PHP reader (report/php.cpp) uses.  Every 8.2.x release keeps them: they
 * are the extension ABI (module API 20220829), which NTS extensions compile
 * into their own code (EX(func), EG(current_execute_data) and ZSTR_VAL are
 * field accesses).  tests/unit/php_layout.c checks each against php8.2-dev's
 * headers; the reader checks them at run time against the engine's exported
 * functions before it trusts them.  C and C++. */
#pragma once

#ifdef __cplusplus
namespace zg {
namespace php82 {
#endif

enum {
  kEgCurrentExecuteData = 488, /* executor_globals.current_execute_data */
  kEgFilenameOverride = 1712,  /* .filename_override: what the API answers while the engine links a class */
  kExOpline = 0,               /* zend_execute_data.opline */
  kExFunc = 24,                /* .func */
  kExThisType = 40,            /* .This's type (u1.v.type): IS_OBJECT in a method called on an object */
  kExPrev = 48,                /* .prev_execute_data */
  kFnType = 0,                 /* zend_function.type (common.type) */
  kFnName = 8,                 /* common.function_name */
  kFnScope = 16,               /* common.scope */
  kOpOpcodes = 88,             /* op_array.opcodes */
  kOpFilename = 152,           /* op_array.filename */
  kOpExtended = 20,            /* zend_op.extended_value */
  kOpLineno = 24,              /* zend_op.lineno */
  kOpOpcode = 28,              /* zend_op.opcode */
  kStrLen = 16,                /* zend_string.len */
  kStrVal = 24,                /* zend_string.val */
  kCeName = 8,                 /* zend_class_entry.name */

  kInternalFunction = 1, /* ZEND_INTERNAL_FUNCTION */
  kUserFunction = 2,     /* ZEND_USER_FUNCTION */
  kEvalCode = 4,         /* ZEND_EVAL_CODE */
  kIsObject = 8,         /* IS_OBJECT */
  kIncludeOrEval = 73,   /* ZEND_INCLUDE_OR_EVAL */
  kEval = 1 << 0,        /* its extended_value: ZEND_EVAL, ... */
  kIncludeOnce = 1 << 2,
  kRequire = 1 << 3,
  kRequireOnce = 1 << 4
};

#ifdef __cplusplus
}  // namespace php82
}  // namespace zg
#endif
