/* core/json_util: non-finite numbers become null, rounding to significant
 * digits, exact integers, escaped strings, one line per record, and a
 * failed write reported. Every record is read back with cJSON_Parse. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_util.h"
#include "dfl_test.h"
#include "dynfill/status.h"

/* The text dfl_json_write_line writes for `record` (malloc'ed). */
static char *written(const cJSON *record) {
    FILE *f = tmpfile();
    DFL_ASSERT(f != NULL);
    CHECK(dfl_json_write_line(f, record) == 0);
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    DFL_ASSERT(text && fread(text, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return text;
}

static void test_numbers(void) {
    cJSON *o = dfl_json_object();
    dfl_json_add_number(o, "nan", NAN, 6);
    dfl_json_add_number(o, "inf", INFINITY, 0);
    dfl_json_add_number(o, "ninf", -INFINITY, 9);
    dfl_json_add_number(o, "third", 1.0 / 3.0, 6);
    dfl_json_add_number(o, "full", 1.0 / 3.0, 0);
    dfl_json_add_number(o, "tiny", 1.234567e-30, 3);
    dfl_json_add_number(o, "lr", (double)1e-3f, 6); /* a float's noise digits go */
    dfl_json_add_int(o, "big", 9007199254740993LL); /* 2^53 + 1: not a double */
    dfl_json_add_int(o, "neg", -42);
    dfl_json_add_bool(o, "yes", 1);
    char *text = written(o);
    cJSON_Delete(o);
    CHECK_MSG(strchr(text, '\n') == text + strlen(text) - 1, "not one line: %s", text);
    CHECK_MSG(strstr(text, "\"nan\":null,\"inf\":null,\"ninf\":null,") != NULL, "%s", text);
    CHECK_MSG(strstr(text, "\"third\":0.333333,") != NULL, "%s", text);
    CHECK_MSG(strstr(text, "\"lr\":0.001,") != NULL, "%s", text);
    CHECK_MSG(strstr(text, "\"big\":9007199254740993,\"neg\":-42,\"yes\":true}") != NULL, "%s", text);

    cJSON *back = cJSON_Parse(text);
    CHECK_MSG(back != NULL, "does not parse: %s", text);
    if (back) {
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "nan")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "inf")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "ninf")));
        CHECK(cJSON_GetObjectItemCaseSensitive(back, "full")->valuedouble == 1.0 / 3.0);
        CHECK_CLOSE(cJSON_GetObjectItemCaseSensitive(back, "tiny")->valuedouble / 1.23e-30, 1.0, 1e-12);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(back, "yes")));
        cJSON_Delete(back);
    }
    free(text);
}

static void test_strings_and_nesting(void) {
    static const char k_odd[] = "a \"quoted\" \\ path\nwith\ttabs \x01 and UTF-8 \xc3\xa9";
    cJSON *o = dfl_json_object();
    dfl_json_add_string(o, "s", k_odd);
    dfl_json_add_string(o, "none", NULL);
    cJSON *arr = dfl_json_add_array(o, "rows");
    for (int i = 0; i < 3; ++i) {
        cJSON *row = dfl_json_append_object(arr);
        dfl_json_add_int(row, "i", i);
        dfl_json_add_number(row, "v", i == 1 ? NAN : i * 0.5, 6);
    }
    char *text = written(o);
    cJSON_Delete(o);
    CHECK_MSG(strchr(text, '\n') == text + strlen(text) - 1, "not one line: %s", text);
    cJSON *back = cJSON_Parse(text);
    CHECK_MSG(back != NULL, "does not parse: %s", text);
    if (back) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(back, "s");
        CHECK(cJSON_IsString(s) && !strcmp(s->valuestring, k_odd));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "none")));
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(back, "rows");
        CHECK(cJSON_GetArraySize(rows) == 3);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 1), "v")));
        CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 2), "v")->valuedouble == 1.0);
        cJSON_Delete(back);
    }
    free(text);
}

static void test_write_failure(void) {
    FILE *full = fopen("/dev/full", "w");
    if (!full) return; /* not Linux */
    cJSON *o = dfl_json_object();
    dfl_json_add_int(o, "step", 1);
    CHECK(dfl_json_write_line(full, o) == -1);
    cJSON_Delete(o);
    fclose(full);
}

int main(void) {
    test_numbers();
    test_strings_and_nesting();
    test_write_failure();
    return dfl_test_finish("core_json_util_test");
}
