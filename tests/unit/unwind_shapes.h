// SPDX-License-Identifier: MIT
#pragma once

namespace shapes {
using Visit = void (*)(void*);
int omit_leaf(Visit visit, void* arg, int n);
int omit_recurse(Visit visit, void* arg, int depth);
int alloca_frame(Visit visit, void* arg, int size);
int vla_frame(Visit visit, void* arg, int n);
}  // namespace shapes
