/* Observation mask patterns (host/data/mask.h): parsing, the statistics each
 * pattern promises, determinism by seed and independence from chunking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/mask.h"
#include "data_test_files.h"
#include "dfl_test.h"

static void parse_ok(const char *text, const char *canonical) {
    dfl_mask_pattern p;
    dfl_clear_error();
    CHECK_MSG(dfl_mask_pattern_parse(text, &p) == DFL_OK, "'%s' parses (%s)", text, dfl_last_error());
    CHECK_MSG(!strcmp(p.text, canonical), "'%s' -> '%s' (expected '%s')", text, p.text, canonical);
}

static void parse_bad(const char *text, const char *what) {
    dfl_mask_pattern p;
    dfl_clear_error();
    CHECK_MSG(dfl_mask_pattern_parse(text, &p) == DFL_EUSAGE, "'%s' is refused", text);
    CHECK_MSG(strstr(dfl_last_error(), what) != NULL, "'%s': message '%s' names '%s'", text, dfl_last_error(), what);
    dfl_clear_error();
}

static dfl_mask_sampler *sampler(const char *text, int64_t n, int c, int h, int w, int per_channel, uint64_t seed) {
    dfl_mask_pattern p;
    CHECK(dfl_mask_pattern_parse(text, &p) == DFL_OK);
    dfl_mask_sampler *s = NULL;
    CHECK(dfl_mask_sampler_create(&p, n, c, h, w, per_channel, seed, &s) == DFL_OK);
    return s;
}

int main(void) {
    parse_ok("pixel:0.2", "pixel:0.2");
    parse_ok("block:3x3:8", "block:3x3:8");
    parse_ok("stations:200", "stations:200:0");
    parse_ok("stations:50:0.25", "stations:50:0.25");
    parse_ok("swath:4:0.3", "swath:4:0.3:0");
    parse_ok("swath:2.5:0.5:20", "swath:2.5:0.5:20");
    parse_ok("file:/some/obs.h5", "file:/some/obs.h5");
    parse_bad("cloud:0.3", "unknown kind 'cloud'");
    parse_bad("pixel", "expected pixel:p");
    parse_bad("pixel:1.5", "must be in (0, 1]");
    parse_bad("pixel:abc", "expected pixel:p");
    parse_bad("block:3:8", "expected block:GHxGW:k");
    parse_bad("block:3x3:10", "must be in [1, 9]");
    parse_bad("stations:0", "n must be >= 1");
    parse_bad("stations:10:1.0", "dropout");
    parse_bad("swath:4:0", "coverage");
    parse_bad("", "empty");

    const int n = 200, H = 32, W = 40, plane = H * W;
    uint8_t *m = malloc((size_t)n * 3 * plane), *m2 = malloc((size_t)n * 3 * plane);

    /* pixel: observed fraction ~ p; deterministic; chunk-independent. */
    dfl_mask_sampler *s = sampler("pixel:0.3", n, 1, H, W, 0, 7);
    CHECK(dfl_mask_sampler_channels(s) == 1);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m) == DFL_OK);
    double frac = 0;
    for (int i = 0; i < n * plane; ++i) frac += m[i];
    frac /= (double)n * plane;
    CHECK_MSG(fabs(frac - 0.3) < 0.005, "pixel:0.3 observes %.4f", frac);
    CHECK(dfl_mask_sampler_draw(s, 57, 9, m2) == DFL_OK);
    CHECK_MSG(!memcmp(m2, m + 57 * plane, 9 * plane), "samples do not depend on the chunk they are drawn in");
    CHECK(memcmp(m, m + plane, plane) != 0);
    dfl_mask_sampler_destroy(s);
    s = sampler("pixel:0.3", n, 1, H, W, 0, 8);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m2) == DFL_OK);
    CHECK_MSG(memcmp(m, m2, (size_t)n * plane) != 0, "another seed, other masks");
    dfl_mask_sampler_destroy(s);
    /* per-channel masks differ between channels */
    s = sampler("pixel:0.5", 4, 3, H, W, 1, 7);
    CHECK(dfl_mask_sampler_channels(s) == 3);
    CHECK(dfl_mask_sampler_draw(s, 0, 4, m) == DFL_OK);
    CHECK(memcmp(m, m + plane, plane) != 0);
    dfl_mask_sampler_destroy(s);
    /* tiny p: no sample is ever empty (redraw) */
    s = sampler("pixel:0.0005", 50, 1, 8, 8, 0, 1);
    CHECK(dfl_mask_sampler_draw(s, 0, 50, m) == DFL_OK);
    int nonempty = 1;
    for (int k = 0; k < 50; ++k) {
        int c = 0;
        for (int i = 0; i < 64; ++i) c += m[k * 64 + i];
        nonempty &= c > 0;
    }
    CHECK_MSG(nonempty, "every sample has an observed entry");
    dfl_mask_sampler_destroy(s);

    /* block:3x3:7 on 32x40: blocks of 10 rows (last 12) and 13 columns (last 14). */
    s = sampler("block:3x3:7", n, 1, H, W, 0, 3);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m) == DFL_OK);
    const int ys[4] = {0, 10, 20, 32}, xs[4] = {0, 13, 26, 40};
    int whole = 1, seven = 1, hits[9] = {0};
    for (int k = 0; k < n; ++k) {
        int on = 0;
        for (int by = 0; by < 3; ++by)
            for (int bx = 0; bx < 3; ++bx) {
                const uint8_t v = m[k * plane + ys[by] * W + xs[bx]];
                for (int y = ys[by]; y < ys[by + 1]; ++y)
                    for (int x = xs[bx]; x < xs[bx + 1]; ++x) whole &= m[k * plane + y * W + x] == v;
                on += v;
                hits[by * 3 + bx] += v;
            }
        seven &= on == 7;
    }
    CHECK_MSG(whole, "blocks are observed whole, the last row/column of blocks takes the remainder");
    CHECK_MSG(seven, "exactly 7 of the 9 blocks are observed");
    for (int b = 0; b < 9; ++b) CHECK_MSG(hits[b] > 120 && hits[b] < 190, "block %d observed %d/200 times", b, hits[b]);
    dfl_mask_sampler_destroy(s);
    dfl_mask_pattern bp;
    CHECK(dfl_mask_pattern_parse("block:40x3:2", &bp) == DFL_OK);
    dfl_mask_sampler *bad = NULL;
    CHECK(dfl_mask_sampler_create(&bp, n, 1, H, W, 0, 1, &bad) == DFL_EUSAGE);
    dfl_clear_error();

    /* stations: the same 60 cells in every sample without dropout. */
    s = sampler("stations:60", n, 1, H, W, 0, 5);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m) == DFL_OK);
    int same = 1, sixty = 1;
    for (int k = 0; k < n; ++k) {
        int c = 0;
        for (int i = 0; i < plane; ++i) c += m[k * plane + i];
        sixty &= c == 60;
        same &= !memcmp(m, m + k * plane, plane);
    }
    CHECK(sixty && same);
    dfl_mask_sampler_destroy(s);
    /* with dropout 0.25: only station cells, each missing ~25% of the time */
    s = sampler("stations:60:0.25", n, 1, H, W, 0, 5);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m2) == DFL_OK);
    int subset = 1;
    double kept = 0;
    for (int k = 0; k < n; ++k)
        for (int i = 0; i < plane; ++i) {
            subset &= !m2[k * plane + i] || m[i];
            kept += m2[k * plane + i];
        }
    kept /= 60.0 * n;
    CHECK(subset);
    CHECK_MSG(fabs(kept - 0.75) < 0.02, "stations kept %.3f of the time", kept);
    dfl_mask_sampler_destroy(s);
    CHECK(dfl_mask_pattern_parse("stations:5000", &bp) == DFL_OK);
    CHECK(dfl_mask_sampler_create(&bp, n, 1, H, W, 0, 1, &bad) == DFL_EUSAGE);
    dfl_clear_error();

    /* swath:4:0.25 (period 16) on 40 columns: strips of 4 columns, every
     * row identical (angle 0), random phase across samples. */
    s = sampler("swath:4:0.25", n, 1, H, W, 0, 2);
    CHECK(dfl_mask_sampler_draw(s, 0, n, m) == DFL_OK);
    int rows_same = 1, phases_differ = 0;
    double cover = 0;
    for (int k = 0; k < n; ++k) {
        for (int y = 1; y < H; ++y) rows_same &= !memcmp(m + k * plane, m + k * plane + y * W, W);
        phases_differ |= memcmp(m, m + k * plane, W) != 0;
        for (int i = 0; i < plane; ++i) cover += m[k * plane + i];
    }
    cover /= (double)n * plane;
    CHECK(rows_same && phases_differ);
    CHECK_MSG(fabs(cover - 0.25) < 0.02, "swath coverage %.3f", cover);
    dfl_mask_sampler_destroy(s);
    /* tilted swaths shift from row to row */
    s = sampler("swath:3:0.3:45", 2, 1, H, W, 0, 2);
    CHECK(dfl_mask_sampler_draw(s, 0, 2, m) == DFL_OK);
    CHECK(memcmp(m, m + W, W) != 0);
    CHECK(!memcmp(m + 1, m + W, W - 1)); /* 45 degrees: one column per row */
    dfl_mask_sampler_destroy(s);

    /* file: masks of another dataset, reused cyclically. */
    char dir[200], path[300];
    snprintf(dir, sizeof dir, "/tmp/dfl_data_masks_%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/src.h5", dir);
    float *obs = malloc(sizeof(float) * 5 * plane);
    uint8_t *fm = malloc(5 * plane);
    tf_fill(5, 1, 1, H, W, obs, fm);
    tf_dataset(path, 5, 1, 1, H, W, obs, fm, 0);
    char text[400];
    snprintf(text, sizeof text, "file:%s", path);
    s = sampler(text, 12, 2, H, W, 0, 0);
    CHECK(dfl_mask_sampler_channels(s) == 1);
    CHECK(dfl_mask_sampler_draw(s, 0, 12, m) == DFL_OK);
    CHECK(!memcmp(m, fm, 5 * plane) && !memcmp(m + 7 * plane, fm + 2 * plane, plane));
    dfl_mask_sampler_destroy(s);
    dfl_mask_pattern fp;
    CHECK(dfl_mask_pattern_parse(text, &fp) == DFL_OK);
    CHECK(dfl_mask_sampler_create(&fp, 12, 1, H + 1, W, 0, 0, &bad) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), path) != NULL);
    dfl_clear_error();
    snprintf(text, sizeof text, "file:%s/none.h5", dir);
    CHECK(dfl_mask_pattern_parse(text, &fp) == DFL_OK);
    CHECK(dfl_mask_sampler_create(&fp, 12, 1, H, W, 0, 0, &bad) == DFL_EUSAGE);
    dfl_clear_error();
    free(obs);
    free(fm);
    free(m);
    free(m2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return dfl_test_finish("data_masks_test");
}
