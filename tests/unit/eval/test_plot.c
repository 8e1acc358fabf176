/* `dynfill plot` pieces: axis ticks, the metrics.jsonl reader, the font,
 * PNG output read back with libpng, and the field figure's pixels (grey
 * exactly where entries are unobserved) and errors. */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfl_test.h"
#include "io/h5_util.h"
#include "plot/plot_colormap.h"
#include "plot/plot_figures.h"
#include "plot/png_canvas.h"

static char g_dir[256];

static const char *path_of(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void test_ticks(void) {
    double t[64];
    int n = dfl_plot_ticks(0, 3000, 0, t, 64);
    CHECK(n == 7);
    for (int i = 0; i < n; ++i) CHECK_CLOSE(t[i], 500.0 * i, 1e-12);
    n = dfl_plot_ticks(-0.3, 0.7, 0, t, 64);
    CHECK(n == 5 && fabs(t[0] + 0.2) < 1e-12 && t[1] == 0.0 && fabs(t[4] - 0.6) < 1e-12);
    /* decades over four orders of magnitude */
    n = dfl_plot_ticks(1e-4, 1.0, 1, t, 64);
    CHECK(n == 5);
    CHECK_CLOSE(t[0], 1e-4, 1e-9);
    CHECK_CLOSE(t[4], 1.0, 1e-9);
    /* a bit over one decade: 1-2-5 */
    n = dfl_plot_ticks(0.03, 0.6, 1, t, 64);
    CHECK(n == 4);
    CHECK_CLOSE(t[0], 0.05, 1e-9);
    CHECK_CLOSE(t[3], 0.5, 1e-9);
    /* within a decade: 1..9 */
    n = dfl_plot_ticks(0.25, 0.95, 1, t, 64);
    CHECK(n == 7);
    CHECK_CLOSE(t[0], 0.3, 1e-9);
    /* very narrow: linear fallback still gives ticks inside the range */
    n = dfl_plot_ticks(0.120, 0.125, 1, t, 64);
    CHECK(n >= 3);
    for (int i = 0; i < n; ++i) CHECK(t[i] >= 0.120 - 1e-12 && t[i] <= 0.125 + 1e-12);
}

static void write_text(const char *name, const char *text) {
    FILE *f = fopen(path_of(name), "w");
    fputs(text, f);
    fclose(f);
}

static void test_metrics_reader(void) {
    dfl_series loss, val;
    write_text("m1.jsonl",
               "{\"step\": 0, \"loss\": 1.0, \"lr\": 0.001}\n"
               "\n"
               "{\"event\": \"checkpoint\", \"path\": \"a \\\"b\\\" c\"}\n"
               "{\"step\": 100, \"loss\": 0.5, \"val_loss\": 0.7, \"extra\": {\"a\": [1, 2, {\"b\": \"}\"}]}}\n"
               "{\"step\": 200, \"loss\": NaN}\n"
               "{\"step\": 300, \"loss\": 0.25, \"samples_per_s\": 30.5, \"ok\": true, \"x\": null}\n"
               "{\"step\": 200, \"loss\": 0.3, \"val_loss\": 0.6}\n" /* resumed from step 200 */
               "{\"step\": 250, \"loss\": 0.28}\n"
               "{\"step\": 400, \"los");                              /* killed mid-write */
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("m1.jsonl"), &loss, &val) == DFL_OK);
    /* 0, 100, then 300 superseded by the resumed 200, 250 */
    CHECK(loss.count == 4);
    if (loss.count == 4) {
        CHECK(loss.step[0] == 0 && loss.step[1] == 100 && loss.step[2] == 200 && loss.step[3] == 250);
        CHECK(loss.value[1] == 0.5 && loss.value[2] == 0.3);
    }
    CHECK(val.count == 2 && val.step[1] == 200 && val.value[1] == 0.6);
    dfl_series_free(&loss);
    dfl_series_free(&val);

    write_text("m2.jsonl", "{\"step\": 0, \"loss\": 1.0}\n{\"step\": 1 \"loss\": 2}\n{\"step\": 2, \"loss\": 1.0}\n");
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("m2.jsonl"), &loss, &val) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "m2.jsonl: line 2") != NULL, "%s", dfl_last_error());

    write_text("m3.jsonl", "{\"step\": 0, \"lr\": 1.0}\n");
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("m3.jsonl"), &loss, &val) == DFL_EUSAGE);
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("absent.jsonl"), &loss, &val) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "absent.jsonl") != NULL);
}

static void test_font(void) {
    for (int ch = 33; ch < 127; ++ch) {
        const unsigned char *g = dfl_font_glyph((char)ch);
        int bits = 0;
        for (int r = 0; r < DFL_FONT_CELL_H; ++r) bits += g[r] != 0;
        CHECK_MSG(bits > 0, "glyph '%c' is empty", ch);
    }
    const unsigned char *space = dfl_font_glyph(' ');
    for (int r = 0; r < DFL_FONT_CELL_H; ++r) CHECK(space[r] == 0);
    CHECK(dfl_font_glyph((char)200) == dfl_font_glyph('?'));
    /* distinct digits */
    for (int a = '0'; a <= '9'; ++a)
        for (int b = a + 1; b <= '9'; ++b) CHECK(memcmp(dfl_font_glyph((char)a), dfl_font_glyph((char)b), DFL_FONT_CELL_H));
    CHECK(dfl_text_width("abc", 2) == (3 * 6 - 1) * 2);
}

/* Read a PNG back as RGB with libpng's simplified API. */
static unsigned char *read_png(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

static void test_canvas_png(void) {
    dfl_canvas c;
    dfl_canvas_init(&c, 37, 21, 0xffffff);
    dfl_canvas_fill_rect(&c, 2, 3, 4, 5, 0x123456);
    dfl_canvas_text(&c, 10, 2, "Hi", 1, 0x000000);
    dfl_canvas_line(&c, 0, 20, 36, 0, 2.0, 0xff0000);
    dfl_canvas_fill_rect(&c, -5, -5, 3, 3, 0x00ff00); /* clipped away entirely */
    CHECK(dfl_png_write(path_of("c.png"), &c) == DFL_OK);
    int w = 0, h = 0;
    unsigned char *px = read_png(path_of("c.png"), &w, &h);
    CHECK(px != NULL && w == 37 && h == 21);
    if (px) {
        const unsigned char *p = px + (size_t)(4 * 37 + 3) * 3;
        CHECK(p[0] == 0x12 && p[1] == 0x34 && p[2] == 0x56);
        /* 'H' left stem: column 10, rows 2..8 */
        CHECK(px[(size_t)(5 * 37 + 10) * 3] == 0);
        CHECK(px[0] == 255 || px[1] != 255); /* corner not green */
        free(px);
    }
    dfl_canvas_free(&c);
    dfl_clear_error();
    CHECK(dfl_png_write("/nonexistent-dir/x.png", &c) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "/nonexistent-dir/x.png") != NULL);
    /* colour maps: endpoints and a monotone-lightness sequential map */
    CHECK(dfl_cmap_color(DFL_CMAP_DIVERGING, 0.5) == 0xf7f7f7);
    double prev = -1;
    int monotone = 1;
    for (int i = 0; i <= 32; ++i) {
        const uint32_t col = dfl_cmap_color(DFL_CMAP_SEQUENTIAL, i / 32.0);
        const double lum = 0.2126 * (col >> 16) + 0.7152 * ((col >> 8) & 255) + 0.0722 * (col & 255);
        if (lum < prev) monotone = 0;
        prev = lum;
    }
    CHECK(monotone);
}

static void test_fields(void) {
    /* 8×8, 2 channels, one shared mask with 3 unobserved entries in sample 1 */
    const int n = 2, ch = 2, hh = 8, ww = 8;
    float pred[2 * 2 * 64], truth[2 * 2 * 64], std[2 * 2 * 64];
    unsigned char mask[2 * 64];
    for (int i = 0; i < n * ch * hh * ww; ++i) {
        truth[i] = (float)sin(0.3 * i);
        pred[i] = truth[i] + 0.1f;
        std[i] = 0.05f;
    }
    memset(mask, 1, sizeof mask);
    mask[64 + 9] = mask[64 + 10] = mask[64 + 40] = 0;
    hid_t f;
    const unsigned long long d[4] = {2, 2, 8, 8}, md[4] = {2, 1, 8, 8};
    DFL_ASSERT(dfl_h5_create(path_of("p.h5"), &f) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, pred) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/std", 4, d, std) == DFL_OK);
    CHECK(dfl_h5_write_u8(f, "/mask", 4, md, mask) == DFL_OK);
    H5Fclose(f);
    DFL_ASSERT(dfl_h5_create(path_of("t.h5"), &f) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/truth", 4, d, truth) == DFL_OK);
    H5Fclose(f);

    int w = 0, h = 0;
    dfl_clear_error();
    CHECK(dfl_plot_fields(path_of("p.h5"), path_of("t.h5"), 1, 1, path_of("f.png"), &w, &h) == DFL_OK);
    int rw = 0, rh = 0;
    unsigned char *px = read_png(path_of("f.png"), &rw, &rh);
    CHECK(px != NULL && rw == w && rh == h);
    /* 8×8 shown at 40× (320 px): 3 unobserved entries = 3·1600 grey pixels */
    long grey = 0;
    if (px)
        for (long i = 0; i < (long)rw * rh; ++i)
            grey += px[3 * i] == 0xb4 && px[3 * i + 1] == 0xb4 && px[3 * i + 2] == 0xb4;
    CHECK_MSG(grey == 3 * 1600, "grey pixels %ld", grey);
    free(px);
    /* five panels vs four without /std: narrower figure */
    int w4 = 0, h4 = 0;
    DFL_ASSERT(dfl_h5_create(path_of("p_nostd.h5"), &f) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, pred) == DFL_OK);
    CHECK(dfl_h5_write_u8(f, "/mask", 4, md, mask) == DFL_OK);
    H5Fclose(f);
    CHECK(dfl_plot_fields(path_of("p_nostd.h5"), path_of("t.h5"), 0, 0, path_of("f4.png"), &w4, &h4) == DFL_OK);
    CHECK(h4 == h && w4 < w);
    /* sample 0 has no unobserved entry: no grey */
    px = read_png(path_of("f4.png"), &rw, &rh);
    grey = 0;
    if (px)
        for (long i = 0; i < (long)rw * rh; ++i)
            grey += px[3 * i] == 0xb4 && px[3 * i + 1] == 0xb4 && px[3 * i + 2] == 0xb4;
    CHECK(grey == 0);
    free(px);

    dfl_clear_error();
    CHECK(dfl_plot_fields(path_of("p.h5"), path_of("t.h5"), 2, 0, path_of("x.png"), NULL, NULL) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "--index 2") != NULL);
    dfl_clear_error();
    CHECK(dfl_plot_fields(path_of("p.h5"), path_of("t.h5"), 0, 2, path_of("x.png"), NULL, NULL) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "--channel 2") != NULL);
    CHECK(access(path_of("x.png"), F_OK) != 0);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/dfl_plot_test.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    dfl_set_quiet(1);
    test_ticks();
    test_metrics_reader();
    test_font();
    test_canvas_png();
    test_fields();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return dfl_test_finish("eval_plot_test");
}
