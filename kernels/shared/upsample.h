/* Nearest x2 upsampling backward (docs/design.md, "The network: dfl-unet v1"), shared by the CPU and CUDA
 * backends: each input gradient is the sum of its 2x2 block of output
 * gradients, added in one fixed order,
 *   dx(y, x) = ((dy(2y, 2x) + dy(2y, 2x+1)) + dy(2y+1, 2x)) + dy(2y+1, 2x+1). */
#ifndef DYNFILL_SHARED_UPSAMPLE_H
#define DYNFILL_SHARED_UPSAMPLE_H

#include "dfl_hd.h"

/* a0, a1: the top row of the block (left, right); b0, b1: the bottom row. */
DFL_HD float dfl_upsample_bwd_sum(float a0, float a1, float b0, float b1) { return ((a0 + a1) + b0) + b1; }

#endif
