/* SPDX-License-Identifier: MIT */
/* The offsets src/report/php_layout.h writes down for PHP 8.2, checked
 * against php8.2-dev's headers: a difference does not compile.  The guard
 * itself is built without PHP's headers (one binary for every process) and
 * checks the same offsets at run time before it trusts them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "php.h"
#include "zend_globals.h"
#include "zend_vm_opcodes.h"

#include "report/php_layout.h"

#define SAME(what, value) _Static_assert((what) == (value), #what " is " #value " in php_layout.h")

_Static_assert(ZEND_MODULE_API_NO == 20220829, "php_layout.h describes PHP 8.2 (module API 20220829)");
#ifdef ZTS
#error "php_layout.h describes the NTS build (executor_globals one global)"
#endif
SAME(offsetof(zend_executor_globals, current_execute_data), kEgCurrentExecuteData);
SAME(offsetof(zend_executor_globals, filename_override), kEgFilenameOverride);
SAME(offsetof(zend_execute_data, opline), kExOpline);
SAME(offsetof(zend_execute_data, func), kExFunc);
SAME(offsetof(zend_execute_data, This.u1.v.type), kExThisType);
SAME(offsetof(zend_execute_data, prev_execute_data), kExPrev);
SAME(offsetof(zend_function, type), kFnType);
SAME(offsetof(zend_function, common.type), kFnType);
SAME(offsetof(zend_function, common.function_name), kFnName);
SAME(offsetof(zend_function, common.scope), kFnScope);
SAME(offsetof(zend_function, op_array.opcodes), kOpOpcodes);
SAME(offsetof(zend_function, op_array.filename), kOpFilename);
SAME(offsetof(zend_op, extended_value), kOpExtended);
SAME(offsetof(zend_op, lineno), kOpLineno);
SAME(offsetof(zend_op, opcode), kOpOpcode);
SAME(offsetof(zend_string, len), kStrLen);
SAME(offsetof(zend_string, val), kStrVal);
SAME(offsetof(zend_class_entry, name), kCeName);
SAME(ZEND_INTERNAL_FUNCTION, kInternalFunction);
SAME(ZEND_USER_FUNCTION, kUserFunction);
SAME(ZEND_EVAL_CODE, kEvalCode);
SAME(IS_OBJECT, kIsObject);
SAME(ZEND_INCLUDE_OR_EVAL, kIncludeOrEval);
SAME(ZEND_EVAL, kEval);
SAME(ZEND_INCLUDE_ONCE, kIncludeOnce);
SAME(ZEND_REQUIRE, kRequire);
SAME(ZEND_REQUIRE_ONCE, kRequireOnce);
SAME(sizeof(((zend_string*)0)->len), 8);
SAME(sizeof(((zend_op*)0)->lineno), 4);
SAME(sizeof(((zend_function*)0)->type), 1);

int main(void) {
  /* The guard keys the layout to the engine's version string. */
  if (strncmp(ZEND_VERSION, "4.2.", 4) != 0) {
    printf("Zend Engine %s is not 4.2\n", ZEND_VERSION);
    return 1;
  }
  printf("PHP %s (Zend Engine %s): php_layout.h matches\n", PHP_VERSION, ZEND_VERSION);
  return 0;
}
