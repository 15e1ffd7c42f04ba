#include "core/serialize.h"

namespace zg {

void serialize_init() {}

}  // namespace zg
