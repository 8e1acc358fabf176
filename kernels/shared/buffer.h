/* The growth rule of every growable scratch buffer (the CPU backend's
 * dfl_cpu_buffer, the CUDA backend's scratch slots, the host's context
 * plans): a buffer that must hold `need` bytes is reallocated to
 * need + need/4 (head-room, so slowly growing shapes do not reallocate on
 * every call), rounded up to a multiple of `align` (a power of two), at
 * least `align`. Contents are not preserved across a growth. */
#ifndef DYNFILL_SHARED_BUFFER_H
#define DYNFILL_SHARED_BUFFER_H

#include <stddef.h>

#include "dfl_hd.h"

DFL_HD size_t dfl_buffer_grow_bytes(size_t need, size_t align) {
    size_t want = need + need / 4;
    want = (want + align - 1) & ~(align - 1);
    return want < align ? align : want;
}

#endif
