/* Coverage warning at train start (host/train_coverage_check.h). */
#include "train_coverage_check.h"

/* Replaced by the estimator of host/coverage.c once it lands. */
__attribute__((weak)) void dfl_train_coverage_check(const dfl_dataset *ds, const dfl_method_params *method,
                                                    uint64_t seed) {
    (void)ds;
    (void)method;
    (void)seed;
}
