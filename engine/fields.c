/*
 * fields.c — parsing of the values records carry: dates, counts,
 * coordinates, status words. Strict: anything not understood is an error
 * for the caller to report, never a silent zero.
 */
#include "df_core.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- dates ------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, no time zones involved. */
int32_t df__days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

void df__civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

static int valid_ymd(int y, int m, int d)
{
    return y >= 1900 && y <= 2200 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* Reads exactly `width` digits (or 1..width when width < 0). */
static int read_digits(const char **p, int width, int *out)
{
    int n = 0, v = 0, max = width < 0 ? -width : width;
    while (n < max && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || (width > 0 && n != width)) return -1;
    *out = v;
    return 0;
}

static const char *const month_names[] = {"january", "february", "march",     "april",   "may",      "june",
                                          "july",    "august",   "september", "october", "november", "december"};

static int month_from_name(const char **p)
{
    /* the full English name or a prefix of it of at least 3 letters:
     * "Aug", "August", "Sept"; never "Junk" */
    const char *const *names = month_names;
    size_t n = 0;
    while (isalpha((unsigned char)(*p)[n])) n++;
    for (int i = 0; i < 12 && n >= 3; i++) {
        if (n <= strlen(names[i]) && strncasecmp(*p, names[i], n) == 0) {
            *p += n;
            if ((*p)[0] == '.') (*p)++;
            return i + 1;
        }
    }
    return -1;
}

int df_date_parse(const char *text, int32_t *days)
{
    const char *p = text;
    int y, m, d;
    while (*p == ' ' || *p == '\t') p++;
    if (read_digits(&p, -4, &y) != 0) return -1;
    if (p - text >= 4 && (*p == '-' || *p == '/') && y >= 1000) {
        /* ISO 8601: yyyy-mm-dd, optionally followed by a time */
        char sep = *p++;
        if (read_digits(&p, -2, &m) != 0 || *p++ != sep || read_digits(&p, -2, &d) != 0) return -1;
        /* a time of day (T00:00:00, " 12:30") is allowed and ignored */
        if ((*p == 'T' || *p == ' ') && isdigit((unsigned char)p[1])) {
            p++;
            while (*p && (isdigit((unsigned char)*p) || strchr(":.+-Z", *p))) p++;
        }
    } else {
        d = y;
        if (d > 31) return -1;
        char sep = *p;
        if (sep != '/' && sep != '-' && sep != '.' && sep != ' ') return -1;
        p++;
        while (*p == ' ') p++;
        if (isalpha((unsigned char)*p)) {
            if ((m = month_from_name(&p)) < 0) return -1; /* 18 Aug 2014 */
        } else if (read_digits(&p, -2, &m) != 0) {
            return -1; /* dd/mm/yyyy: the DTM convention; never mm/dd */
        }
        if (*p != sep && !(sep == ' ' && *p == ' ') && !(*p == ',')) return -1;
        p++;
        while (*p == ' ') p++;
        if (read_digits(&p, 4, &y) != 0) return -1;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p != '\0' || !valid_ymd(y, m, d)) return -1;
    *days = df__days_from_civil(y, m, d);
    return 0;
}

int df_step_parse(const char *name)
{
    static const char *const names[] = {"none", "day", "week", "month"};
    if (!name) return -1;
    if (!strcasecmp(name, "round")) return DF_STEP_DAY;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(name, names[i])) return i;
    return -1;
}

void df_period_of(int32_t date, df_step step, int32_t *start, int32_t *end)
{
    int y, m, d;
    *start = *end = DF_NO_DATE;
    if (date == DF_NO_DATE) return;
    switch (step) {
    case DF_STEP_DAY:
        *start = *end = date;
        break;
    case DF_STEP_WEEK: /* ISO weeks begin on Monday; 1970-01-01 was a Thursday */
        *start = date - (int32_t)(((date % 7) + 7 + 3) % 7);
        *end = *start + 6;
        break;
    case DF_STEP_MONTH:
        df__civil_from_days(date, &y, &m, &d);
        *start = df__days_from_civil(y, m, 1);
        *end = df__days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
        break;
    default:
        break;
    }
}

int32_t df_period_next(int32_t date, df_step step)
{
    int32_t start, end;
    df_period_of(date, step, &start, &end);
    return end == DF_NO_DATE ? DF_NO_DATE : end + 1;
}

int32_t df_period_prev(int32_t date, df_step step)
{
    int32_t start, end, prev_start, prev_end;
    df_period_of(date, step, &start, &end);
    if (start == DF_NO_DATE) return DF_NO_DATE;
    df_period_of(start - 1, step, &prev_start, &prev_end);
    return prev_start + (date - start < prev_end - prev_start ? date - start : prev_end - prev_start);
}

int df_delimiter_parse(const char *text, char *out)
{
    static const char *const names[] = {"comma", "semicolon", "tab", "pipe"};
    static const char chars[] = ",;\t|";
    if (!text) return -1;
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(text, names[i]) || (text[0] == chars[i] && text[1] == '\0')) {
            *out = chars[i];
            return 0;
        }
    return -1;
}

void df_date_format(int32_t days, char out[11])
{
    int y, m, d;
    if (days == DF_NO_DATE) {
        out[0] = '\0';
        return;
    }
    df__civil_from_days(days, &y, &m, &d);
    y = y < 0 ? 0 : y % 10000;
    out[0] = (char)('0' + y / 1000), out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10), out[3] = (char)('0' + y % 10), out[4] = '-';
    out[5] = (char)('0' + m / 10), out[6] = (char)('0' + m % 10), out[7] = '-';
    out[8] = (char)('0' + d / 10), out[9] = (char)('0' + d % 10), out[10] = '\0';
}

/* ---- numbers ------------------------------------------------------------- */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int df__parse_double(const char *s, size_t len, double *out)
{
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if (p == end) return -1;

    /* Fast path (Clinger): at most 15 significant digits and a power of ten
     * up to 22 are both exact doubles, so one division rounds correctly.
     * (More digits wrap mant harmlessly: the count sends them to strtod.) */
    const char *q = p, *int_start, *frac_start = NULL;
    int neg = *q == '-';
    uint64_t mant = 0;
    q += *q == '-' || *q == '+';
    for (int_start = q; q < end && (unsigned)(*q - '0') < 10; q++) mant = mant * 10 + (uint64_t)(*q - '0');
    long digits = q - int_start, frac = 0;
    if (q < end && *q == '.') {
        for (frac_start = ++q; q < end && (unsigned)(*q - '0') < 10; q++) mant = mant * 10 + (uint64_t)(*q - '0');
        frac = q - frac_start;
        digits += frac;
    }
    if (q == end && digits > 0 && digits <= 15) {
        double v = (double)mant / pow10_exact[frac];
        *out = neg ? -v : v;
        return 0;
    }

    /* General path: strtod on a NUL-terminated copy. A long valid decimal
     * (zero-padded exports) is still a number: copy to the heap rather than
     * reject what does not fit the stack buffer. */
    char small[64], *buf = small;
    size_t n = (size_t)(end - p);
    if (n >= sizeof small && !(buf = df__malloc(n + 1))) return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) /* no hex floats, inf, nan */
        ok = buf[i] != '\0' && strchr("0123456789+-.eE", buf[i]) != NULL;
    char *stop = buf;
    double v = ok ? strtod(buf, &stop) : 0;
    ok = ok && *stop == '\0' && isfinite(v);
    if (buf != small) free(buf);
    if (!ok) return -1;
    *out = v;
    return 0;
}

int df__parse_count(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if (p == end) return -1;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (p == end || !isdigit((unsigned char)*p)) return -1;
    int64_t v = 0;
    int since_sep = 0, seen_sep = 0;
    for (; p < end; p++) {
        if (isdigit((unsigned char)*p)) {
            /* exact bound: INT64_MAX itself is a valid count */
            if (v > (INT64_MAX - (*p - '0')) / 10) return -1;
            v = v * 10 + (*p - '0');
            since_sep++;
        } else if (*p == ',' && (seen_sep ? since_sep == 3 : since_sep <= 3)) {
            seen_sep = 1; /* 1,234,567 */
            since_sep = 0;
        } else if (*p == '.') {
            for (p++; p < end; p++) /* "12.0" from spreadsheets; "12.5" is not a count */
                if (*p != '0') return -1;
            break;
        } else {
            return -1;
        }
    }
    if (seen_sep && since_sep != 3) return -1;
    *out = neg ? -v : v;
    return 0;
}

int df__parse_status(const char *s, df_movement *out)
{
    char w[32];
    size_t n = 0;
    for (; *s && n + 1 < sizeof w; s++)
        if (isalpha((unsigned char)*s)) w[n++] = (char)tolower((unsigned char)*s);
    w[n] = '\0';
    static const char *displaced[] = {"displaced", "idp", "idps", "displacement", "newlydisplaced"};
    static const char *returned[] = {"returned", "returnee", "returnees", "return", "returns"};
    for (size_t i = 0; i < sizeof displaced / sizeof *displaced; i++)
        if (strcmp(w, displaced[i]) == 0) return *out = DF_DISPLACED, 0;
    for (size_t i = 0; i < sizeof returned / sizeof *returned; i++)
        if (strcmp(w, returned[i]) == 0) return *out = DF_RETURNED, 0;
    return -1;
}

int df__utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            if (c == 0) return 0; /* NUL bytes are not text */
            s++;
            continue;
        }
        int n = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : -1;
        if (n < 0 || c > 0xF4 || end - s <= n) return 0;
        for (int i = 1; i <= n; i++)
            if ((s[i] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogates */
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        s += n + 1;
    }
    return 1;
}

void df__date_words(int32_t day, char out[20])
{
    int y, m, d;
    if (day == DF_NO_DATE) {
        snprintf(out, 20, "undated");
        return;
    }
    df__civil_from_days(day, &y, &m, &d);
    const char *name = month_names[m - 1];
    snprintf(out, 20, "%d %c%.2s %d", d, toupper((unsigned char)name[0]), name + 1, y);
}

const char *df__thousands(int64_t v, char *out)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v < 0 ? -(uint64_t)v : (uint64_t)v), k = 0;
    if (v < 0) out[k++] = '-';
    for (int i = 0; i < n; i++) {
        out[k++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i < n - 1) out[k++] = ',';
    }
    out[k] = '\0';
    return out;
}
