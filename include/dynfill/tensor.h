/* Tensors of the public API: a named, shaped view into a flat float buffer
 * (the network's parameters and gradients, checkpoint datasets). Layouts
 * are fixed by convention, not stored: activations NHWC, convolution
 * weights OIHW (PyTorch's), data files NCHW (docs/design.md, "Architecture" and "Files"). */
#ifndef DYNFILL_TENSOR_H
#define DYNFILL_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DFL_TENSOR_MAX_RANK 4

typedef struct {
    char name[96];                 /* PyTorch-style name, e.g. "down.0.res.0.conv1.weight" */
    int rank;                      /* number of dims used */
    int dims[DFL_TENSOR_MAX_RANK]; /* shape, outermost first */
    size_t offset;                 /* in floats, into the flat buffer */
    size_t count;                  /* product of dims */
} dfl_param_info;

#ifdef __cplusplus
}
#endif
#endif
