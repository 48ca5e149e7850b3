/*
 * fuzz_fields.c — libFuzzer harness: the date, number, count, status and
 * UTF-8 parsers (fields.c).
 *
 * The number parsers get the exact bytes (no terminator: they take a
 * length, and ASan catches a read past it). Invariants checked: a parsed
 * date lies in 1900..2200 and survives df_date_format and a re-parse; a
 * parsed double equals strtod of the same text (correctly rounded); a
 * parsed count of plain digits equals strtoll; df__utf8_valid agrees with
 * a reference decoder.
 */
#include "dfint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Reference UTF-8 validation (RFC 3629), written differently: decode the
 * code point and check its range and shortest form. NUL is not text. */
static int fuzz_utf8_reference(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], cp, need;
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            need = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            need = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (i + need >= n) return 0; /* truncated */
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

static int fuzz_fields(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *z = malloc(size + 1);
    if (!z) return 0;
    memcpy(z, data, size);
    z[size] = '\0';

    int32_t days, again;
    if (df_date_parse(z, &days) == 0) {
        char out[11];
        int y, m, d;
        df__civil_from_days(days, &y, &m, &d);
        FUZZ_CHECK(y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
        FUZZ_CHECK(df__days_from_civil(y, m, d) == days);
        df_date_format(days, out);
        FUZZ_CHECK(df_date_parse(out, &again) == 0 && again == days);
    }

    double v;
    if (df__parse_double(s, size, &v) == 0) {
        FUZZ_CHECK(isfinite(v));
        FUZZ_CHECK(strlen(z) == size); /* a NUL byte is never part of a number */
        char *end;
        double w = strtod(z, &end);
        FUZZ_CHECK(v == w || (isnan(v) && isnan(w)));
    }

    int64_t c;
    if (df__parse_count(s, size, &c) == 0) {
        FUZZ_CHECK(strlen(z) == size);
        if (strspn(z, " \t+-0123456789") == size) {
            char *end;
            errno = 0;
            long long w = strtoll(z, &end, 10);
            FUZZ_CHECK(errno == 0 && w == c);
        }
    }

    df_movement mv;
    if (df__parse_status(z, &mv) == 0) FUZZ_CHECK(mv == DF_DISPLACED || mv == DF_RETURNED);

    FUZZ_CHECK(df__utf8_valid(s, size) == fuzz_utf8_reference(data, size));
    free(z);
    return 0;
}

#ifndef DF_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_fields(data, size); }
#endif
