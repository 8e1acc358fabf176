/* JSON records with cJSON (core/json_util.h). */
#include "json_util.h"

#include <math.h>
#include <stdlib.h>

#include "dynfill/status.h"

static cJSON *checked(cJSON *item) {
    if (!item) DFL_PANIC("out of memory building a JSON record");
    return item;
}

cJSON *dfl_json_object(void) { return checked(cJSON_CreateObject()); }

cJSON *dfl_json_add_array(cJSON *obj, const char *key) { return checked(cJSON_AddArrayToObject(obj, key)); }

cJSON *dfl_json_append_object(cJSON *array) {
    cJSON *o = dfl_json_object();
    if (!cJSON_AddItemToArray(array, o)) DFL_PANIC("cannot append to a JSON array");
    return o;
}

void dfl_json_add_number(cJSON *obj, const char *key, double v, int digits) {
    if (!isfinite(v)) {
        checked(cJSON_AddNullToObject(obj, key));
        return;
    }
    if (digits > 0) { /* the value of the shortest text with that many digits */
        char text[64];
        snprintf(text, sizeof text, "%.*g", digits, v);
        v = strtod(text, NULL);
    }
    checked(cJSON_AddNumberToObject(obj, key, v));
}

void dfl_json_add_int(cJSON *obj, const char *key, long long v) {
    /* cJSON keeps numbers as doubles and prints large ones with an exponent */
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    checked(cJSON_AddRawToObject(obj, key, text));
}

void dfl_json_add_string(cJSON *obj, const char *key, const char *s) {
    checked(s ? cJSON_AddStringToObject(obj, key, s) : cJSON_AddNullToObject(obj, key));
}

void dfl_json_add_bool(cJSON *obj, const char *key, int b) { checked(cJSON_AddBoolToObject(obj, key, b != 0)); }

int dfl_json_write_line(FILE *f, const cJSON *record) {
    char *text = cJSON_PrintUnformatted(record);
    if (!text) DFL_PANIC("out of memory printing a JSON record");
    const int bad = fputs(text, f) == EOF || fputc('\n', f) == EOF;
    cJSON_free(text);
    return bad || fflush(f) != 0 || ferror(f) ? -1 : 0;
}
