/* `dynfill plot` pieces: axis ticks, the metrics.jsonl reader, cairo
 * drawing (text in a real font, crisp rectangles), the atomic PNG write
 * (signature, size, nothing left behind on failure), and the figures'
 * pixels: colour-map colours of known entries, grey exactly where entries
 * are unobserved, the loss curves' colours. */
#include <cairo.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json_util.h"
#include "dfl_test.h"
#include "io/h5_util.h"
#include "plot/plot_colormap.h"
#include "plot/plot_draw.h"
#include "plot/plot_figures.h"

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

/* Reading `name` (text, or len bytes of it when len > 0) must fail with
 * DFL_EUSAGE and a message holding `must`. */
static void expect_bad_metrics_n(const char *name, const char *text, size_t len, const char *must) {
    dfl_series loss, val;
    FILE *f = fopen(path_of(name), "w");
    DFL_ASSERT(f && fwrite(text, 1, len ? len : strlen(text), f) == (len ? len : strlen(text)));
    fclose(f);
    dfl_clear_error();
    CHECK_MSG(dfl_plot_read_metrics(path_of(name), &loss, &val) == DFL_EUSAGE, "%s was accepted", name);
    CHECK_MSG(strstr(dfl_last_error(), must) != NULL, "message '%s' lacks '%s'", dfl_last_error(), must);
    CHECK(loss.count == 0 && val.count == 0 && !loss.step && !val.step);
}

static void expect_bad_metrics(const char *name, const char *text, const char *must) {
    expect_bad_metrics_n(name, text, 0, must);
}

static void test_metrics_reader(void) {
    dfl_series loss, val;
    write_text("m1.jsonl",
               "{\"step\": 0, \"loss\": 1.0, \"lr\": 0.001}\n"
               "\n"
               "{\"step\": 100, \"loss\": 0.5, \"val_loss\": 0.7, \"extra\": {\"a\": [1, 2, {\"b\": \"}\"}]}}\n"
               "{\"step\":200,\"loss\":null}\n" /* non-finite: left out with a warning */
               "{\"step\": 300, \"loss\": 0.25, \"samples_per_s\": 30.5, \"ok\": true, \"x\": null}\n"
               "{\"step\": 200, \"loss\": 0.3, \"val_loss\": 0.6}\n" /* resumed from step 200 */
               "{\"step\": 250, \"loss\": 0.28}\r\n"
               "{\"step\": 400, \"los"); /* killed mid-write */
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

    /* every malformed line is an error naming the file and the line */
    expect_bad_metrics("m2.jsonl",
                       "{\"step\": 0, \"loss\": 1.0}\n{\"step\": 1 \"loss\": 2}\n{\"step\": 2, \"loss\": 1.0}\n",
                       "m2.jsonl: line 2 is not valid JSON (column 12)");
    expect_bad_metrics("nan.jsonl", "{\"step\": 0, \"loss\": 1.0}\n{\"step\": 1, \"loss\": NaN}\n",
                       "nan.jsonl: line 2");
    expect_bad_metrics("bare_nan.jsonl", "{\"step\": 0, \"loss\": nan}\n{\"step\": 1, \"loss\": 1}\n",
                       "bare_nan.jsonl: line 1 is not valid JSON");
    expect_bad_metrics("nostep.jsonl", "{\"step\": 0, \"loss\": 1.0}\n{\"event\": \"checkpoint\"}\n",
                       "nostep.jsonl: line 2 has no numeric \"step\"");
    expect_bad_metrics("strstep.jsonl", "{\"step\": \"5\", \"loss\": 1.0}\n", "strstep.jsonl: line 1 has no numeric");
    expect_bad_metrics("strloss.jsonl", "{\"step\": 5, \"loss\": \"0.5\"}\n",
                       "strloss.jsonl: line 1: \"loss\" is not a number or null");
    expect_bad_metrics("garbage.jsonl", "{\"step\": 5, \"loss\": 0.5} x\n{\"step\": 6, \"loss\": 0.5}\n",
                       "garbage.jsonl: line 1 is not valid JSON");
    expect_bad_metrics("array.jsonl", "{\"step\": 5, \"loss\": 0.5}\n[1, 2]\n",
                       "array.jsonl: line 2 is not a JSON object");
    static const char k_nul[] = "{\"step\": 5, \"loss\": 0.5}\n{\"step\": 6,\0 \"loss\": 0.5}\n";
    expect_bad_metrics_n("nul.jsonl", k_nul, sizeof k_nul - 1, "nul.jsonl: line 2");
    /* no line with a drawable loss */
    expect_bad_metrics("m3.jsonl", "{\"step\": 0, \"lr\": 1.0}\n", "m3.jsonl");
    expect_bad_metrics("allnull.jsonl", "{\"step\": 0, \"loss\": null}\n", "allnull.jsonl");
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("absent.jsonl"), &loss, &val) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "absent.jsonl") != NULL);

    /* records from the writer the trainer uses: a NaN validation loss is
     * written as null and read back as a left-out point */
    FILE *f = fopen(path_of("written.jsonl"), "w");
    DFL_ASSERT(f != NULL);
    for (int step = 10; step <= 30; step += 10) {
        cJSON *rec = dfl_json_object();
        dfl_json_add_int(rec, "step", step);
        dfl_json_add_number(rec, "loss", 1.0 / step, 6);
        CHECK(dfl_json_write_line(f, rec) == 0);
        cJSON_Delete(rec);
        rec = dfl_json_object();
        dfl_json_add_int(rec, "step", step);
        dfl_json_add_number(rec, "val_loss", step == 20 ? NAN : 2.0 / step, 6);
        CHECK(dfl_json_write_line(f, rec) == 0);
        cJSON_Delete(rec);
    }
    fclose(f);
    dfl_clear_error();
    CHECK(dfl_plot_read_metrics(path_of("written.jsonl"), &loss, &val) == DFL_OK);
    CHECK(loss.count == 3 && loss.step[2] == 30 && fabs(loss.value[2] - 1.0 / 30) < 1e-6);
    CHECK(val.count == 2 && val.step[0] == 10 && val.step[1] == 30);
    dfl_series_free(&loss);
    dfl_series_free(&val);
}

/* A PNG read back with cairo: width, height and 0x00RRGGBB pixels (NULL
 * if it is not a PNG). The first 24 bytes must be the PNG signature and an
 * IHDR chunk holding the same size. */
typedef struct {
    int w, h;
    uint32_t *px;
} image;

static int read_png(const char *path, image *img) {
    memset(img, 0, sizeof *img);
    unsigned char head[24];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    const size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got != sizeof head || memcmp(head, "\x89PNG\r\n\x1a\n", 8) || memcmp(head + 12, "IHDR", 4)) return 0;
    const int hw = head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    const int hh = head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS || cairo_image_surface_get_width(s) != hw ||
        cairo_image_surface_get_height(s) != hh) {
        cairo_surface_destroy(s);
        return 0;
    }
    img->w = hw;
    img->h = hh;
    img->px = malloc((size_t)hw * hh * sizeof *img->px);
    const unsigned char *data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < hh; ++y)
        for (int x = 0; x < hw; ++x)
            img->px[(size_t)y * hw + x] = ((const uint32_t *)(data + (size_t)y * stride))[x] & 0xffffff;
    cairo_surface_destroy(s);
    return 1;
}

static uint32_t pixel(const image *img, int x, int y) { return img->px[(size_t)y * img->w + x]; }

static long count_color(const image *img, uint32_t rgb) {
    long n = 0;
    for (long i = 0; i < (long)img->w * img->h; ++i) n += img->px[i] == rgb;
    return n;
}

/* Pixel (x, y) and its 8 neighbours are the unobserved grey. */
static int grey_patch(const image *img, int x, int y) {
    for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
            if (pixel(img, x + dx, y + dy) != 0xb4b4b4) return 0;
    return 1;
}

/* Files in the test folder whose name contains `part`. */
static int files_containing(const char *part) {
    DIR *d = opendir(g_dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        const int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_draw_png(void) {
    dfl_figure fig;
    dfl_figure_init(&fig, 120, 40);
    dfl_draw_fill_rect(fig.cr, 2, 3, 4, 5, 0x123456);
    dfl_draw_frame_rect(fig.cr, 100, 10, 10, 10, 0x00ff00);
    const double adv = dfl_draw_text(fig.cr, 30, 30, "Hello", 20, 0, 0.0, 0x000000);
    CHECK(adv > 30 && adv < 80); /* a real proportional font: ~2.7 em */
    CHECK(dfl_draw_text_width(fig.cr, "iiii", 20, 0) < dfl_draw_text_width(fig.cr, "WWWW", 20, 0));
    dfl_draw_text(fig.cr, 0, 39, "bad \xff\xfe utf-8 \xc0\xaf", 8, 0, 0.0, 0x000000); /* drawn as '?' */
    CHECK(cairo_status(fig.cr) == CAIRO_STATUS_SUCCESS);
    char num[32];
    dfl_draw_format_number(num, sizeof num, -0.5, 3);
    CHECK(strcmp(num, "\xe2\x88\x92"
                      "0.5") == 0);
    dfl_draw_format_number(num, sizeof num, -0.0, 3);
    CHECK(strcmp(num, "0") == 0);

    CHECK(dfl_figure_write_png(&fig, path_of("c.png")) == DFL_OK);
    image img;
    CHECK(read_png(path_of("c.png"), &img) && img.w == 120 && img.h == 40);
    if (img.px) {
        CHECK(pixel(&img, 3, 4) == 0x123456 && pixel(&img, 2, 3) == 0x123456 && pixel(&img, 5, 7) == 0x123456);
        CHECK(pixel(&img, 6, 4) == 0xffffff && pixel(&img, 3, 8) == 0xffffff);
        /* a crisp 1-pixel outline, white inside */
        CHECK(pixel(&img, 100, 15) == 0x00ff00 && pixel(&img, 109, 15) == 0x00ff00 && pixel(&img, 105, 19) == 0x00ff00);
        CHECK(pixel(&img, 101, 15) == 0xffffff && pixel(&img, 99, 15) == 0xffffff);
        /* text: dark pixels in its box (baseline 30, 20 px em), anti-aliased edges in grey */
        long dark = 0, grey = 0, outside = 0;
        for (int y = 0; y < 40; ++y)
            for (int x = 0; x < 100; ++x) {
                const uint32_t c = pixel(&img, x, y);
                const int in_box = x >= 29 && x <= 30 + adv + 1 && y >= 13 && y <= 31;
                if (c == 0)
                    dark += in_box, outside += !in_box && y < 32 && !(x < 8 && y < 10);
                else if (c != 0xffffff && in_box && (c >> 16) == (c & 255))
                    ++grey;
            }
        CHECK_MSG(dark > 40 && grey > 20 && outside == 0, "text pixels: %ld dark, %ld grey, %ld outside", dark, grey,
                  outside);
        free(img.px);
    }
    /* no folder: fails naming the path, creates nothing */
    dfl_clear_error();
    CHECK(dfl_figure_write_png(&fig, "/nonexistent-dir/x.png") == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "/nonexistent-dir/x.png") != NULL);
    /* cannot replace a folder: fails naming it, no temporary file left */
    CHECK(mkdir(path_of("dir.png"), 0755) == 0);
    dfl_clear_error();
    CHECK(dfl_figure_write_png(&fig, path_of("dir.png")) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "dir.png") != NULL);
    CHECK(files_containing(".tmp") == 0);
    /* a write that fails part way (file size limit): the earlier c.png is
     * left as it was, and no partial file anywhere */
    CHECK(rename(path_of("c.png"), path_of("c0.png")) == 0);
    CHECK(dfl_figure_write_png(&fig, path_of("c.png")) == DFL_OK);
    dfl_draw_fill_rect(fig.cr, 0, 0, 120, 40, 0x0000ff);
    for (int x = 0; x < 120; x += 3) dfl_draw_fill_rect(fig.cr, x, (x * 7) % 40, 1, 1, (uint32_t)x * 0x10203u);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {200, old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    dfl_clear_error();
    const dfl_status st = dfl_figure_write_png(&fig, path_of("c.png"));
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(st == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "c.png: cannot write") != NULL, "%s", dfl_last_error());
    CHECK(same_file(path_of("c.png"), path_of("c0.png")));
    CHECK(files_containing(".tmp") == 0);
    dfl_figure_free(&fig);

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
    image img;
    CHECK(read_png(path_of("f.png"), &img) && img.w == w && img.h == h);
    /* 5 panels of 320 px and the documented height (docs/eval.md) */
    CHECK_MSG(w == 1744 && h == 471, "%d x %d", w, h);
    if (img.px) {
        /* The grey blocks (1,1), (1,2), (5,0) locate the observed panel;
         * anti-aliased text has grey pixels too, but never a 3×3 patch. */
        int x0 = img.w, y0 = img.h, x1 = -1, y1 = -1;
        for (int y = 1; y + 1 < img.h; ++y)
            for (int x = 1; x + 1 < img.w; ++x)
                if (grey_patch(&img, x, y)) {
                    x0 = x < x0 ? x : x0, y0 = y < y0 ? y : y0;
                    x1 = x > x1 ? x : x1, y1 = y > y1 ? y : y1;
                }
        --x0, --y0, ++x1, ++y1;
        const int fx = x0, fy = y0 - 40;
        CHECK(x1 == fx + 3 * 40 - 1 && y1 == fy + 6 * 40 - 1);
        /* 8×8 shown at 40× (320 px): 3 unobserved entries = 3·1600 grey pixels */
        long grey = 0;
        for (int y = fy; y < fy + 320 && fy >= 0 && fy + 320 <= img.h; ++y)
            for (int x = fx; x < fx + 320 && fx + 320 <= img.w; ++x) grey += pixel(&img, x, y) == 0xb4b4b4;
        CHECK_MSG(grey == 3 * 1600, "grey pixels %ld", grey);
        /* Every observed entry of sample 1, channel 1 is one flat block of
         * its colour-map colour: the shared scale of prediction and truth,
         * diverging and symmetric since the values straddle 0. */
        const float *pv = pred + (1 * ch + 1) * 64, *tv = truth + (1 * ch + 1) * 64;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 64; ++i) {
            lo = fmin(lo, fmin(pv[i], tv[i]));
            hi = fmax(hi, fmax(pv[i], tv[i]));
        }
        CHECK(lo < -0.5 && hi > 0.5);
        hi = fmax(-lo, hi);
        lo = -hi;
        int wrong = 0;
        if (fy >= 0 && fx >= 1 && fy + 320 <= img.h && fx + 320 <= img.w) {
            for (int i = 0; i < 64; ++i) {
                if (!mask[64 + i]) continue;
                const uint32_t want = dfl_cmap_color(DFL_CMAP_DIVERGING, (pv[i] - lo) / (hi - lo));
                const int bx = fx + 40 * (i % 8), by = fy + 40 * (i / 8);
                wrong += pixel(&img, bx, by) != want || pixel(&img, bx + 39, by) != want ||
                         pixel(&img, bx, by + 39) != want || pixel(&img, bx + 39, by + 39) != want ||
                         pixel(&img, bx + 20, by + 20) != want;
            }
            CHECK(pixel(&img, fx - 1, fy + 100) == 0x404040 && pixel(&img, fx + 320, fy + 100) == 0x404040);
            /* its colour bar below: the map's two ends at the panel's edges */
            int bar = 0;
            for (int y = fy + 320; y < img.h && !bar; ++y)
                bar = pixel(&img, fx, y) == dfl_cmap_color(DFL_CMAP_DIVERGING, 0.0) &&
                      pixel(&img, fx + 319, y) == dfl_cmap_color(DFL_CMAP_DIVERGING, 1.0);
            CHECK(bar);
        } else {
            wrong = 1;
        }
        CHECK_MSG(wrong == 0, "%d entries without their colour", wrong);
        /* uncertainty: a constant /std is the top of its heat scale, 64 blocks */
        CHECK(count_color(&img, dfl_cmap_color(DFL_CMAP_HEAT, 1.0)) >= 64 * 1600);
        free(img.px);
    }
    /* five panels vs four without /std: narrower figure */
    int w4 = 0, h4 = 0;
    DFL_ASSERT(dfl_h5_create(path_of("p_nostd.h5"), &f) == DFL_OK);
    CHECK(dfl_h5_write_float(f, "/pred", 4, d, pred) == DFL_OK);
    CHECK(dfl_h5_write_u8(f, "/mask", 4, md, mask) == DFL_OK);
    H5Fclose(f);
    CHECK(dfl_plot_fields(path_of("p_nostd.h5"), path_of("t.h5"), 0, 0, path_of("f4.png"), &w4, &h4) == DFL_OK);
    CHECK(h4 == h && w4 == 1396);
    /* sample 0 has no unobserved entry: no grey */
    CHECK(read_png(path_of("f4.png"), &img) && img.w == w4);
    long patches = 0;
    for (int y = 1; img.px && y + 1 < img.h; ++y)
        for (int x = 1; x + 1 < img.w; ++x) patches += grey_patch(&img, x, y);
    CHECK(patches == 0);
    free(img.px);

    dfl_clear_error();
    CHECK(dfl_plot_fields(path_of("p.h5"), path_of("t.h5"), 2, 0, path_of("x.png"), NULL, NULL) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "--index 2") != NULL);
    dfl_clear_error();
    CHECK(dfl_plot_fields(path_of("p.h5"), path_of("t.h5"), 0, 2, path_of("x.png"), NULL, NULL) == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "--channel 2") != NULL);
    CHECK(access(path_of("x.png"), F_OK) != 0);
    CHECK(files_containing(".tmp") == 0);
}

static void test_loss(void) {
    write_text("m5.jsonl", "{\"step\": 0, \"loss\": 1.0}\n{\"step\": 50, \"loss\": 0.3, \"val_loss\": 0.4}\n"
                           "{\"step\": 100, \"loss\": 0.1, \"val_loss\": 0.2}\n{\"step\": 150, \"loss\": 0.08}\n");
    int w = 0, h = 0;
    dfl_clear_error();
    CHECK(dfl_plot_loss(path_of("m5.jsonl"), path_of("loss.png"), &w, &h) == DFL_OK);
    CHECK(w == 960 && h == 560);
    image img;
    CHECK(read_png(path_of("loss.png"), &img) && img.w == 960 && img.h == 560);
    if (img.px) {
        CHECK(pixel(&img, 0, 0) == 0xffffff && pixel(&img, 959, 559) == 0xffffff);
        /* validation dots are solid discs of the val colour; the train
         * curve is a thinner anti-aliased line: pixels close to its colour */
        CHECK(count_color(&img, 0xe8710a) >= 2 * 9);
        long near_train = 0;
        for (long i = 0; i < (long)img.w * img.h; ++i) {
            const uint32_t c = img.px[i];
            near_train += abs((int)(c >> 16) - 0x1f) < 40 && abs((int)(c >> 8 & 255) - 0x77) < 40 &&
                          abs((int)(c & 255) - 0xb4) < 40;
        }
        CHECK_MSG(near_train > 300, "train-coloured pixels %ld", near_train);
        free(img.px);
    }
    dfl_clear_error();
    CHECK(dfl_plot_loss(path_of("m2.jsonl"), path_of("loss_bad.png"), NULL, NULL) == DFL_EUSAGE);
    CHECK(access(path_of("loss_bad.png"), F_OK) != 0);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/dfl_plot_test.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    dfl_set_quiet(1);
    test_ticks();
    test_metrics_reader();
    test_draw_png();
    test_fields();
    test_loss();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return dfl_test_finish("eval_plot_test");
}
