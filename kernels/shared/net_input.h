/* The layout of the network's input (docs/design.md, "The network"), NHWC:
 * each pixel holds its c values, then its c context-mask entries, and,
 * with model.input_fill, then its c fills (2c or 3c floats a pixel). The
 * one place that layout is written: the method ops that build the input,
 * and the pyramid and spline fills, on the CPU and CUDA. */
#ifndef DYNFILL_SHARED_NET_INPUT_H
#define DYNFILL_SHARED_NET_INPUT_H

#include <stddef.h>

#include "dfl_hd.h"

enum { DFL_INPUT_PART_VALUE = 0, DFL_INPUT_PART_MASK = 1, DFL_INPUT_PART_FILL = 2 };

/* Index of channel ch of `part` at pixel e of an input of `parts` (2 or 3) parts of c channels. */
DFL_HD size_t dfl_net_input_index(size_t e, int parts, int c, int part, int ch) {
    return (e * (size_t)parts + (size_t)part) * (size_t)c + (size_t)ch;
}

#endif
