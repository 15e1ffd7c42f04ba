// mode=serialize: calls on a shared socket take turns without holding the
// socket across a blocking wait (see serialize.cpp).
#pragma once
#include "core/registry.h"

namespace zg {

void serialize_init();

}  // namespace zg
