/*
 * test_fields.c — engine/fields.c against independent references: dates
 * against a plain day-by-day calendar walk and libc's timegm(), numbers
 * against strtod() and a reference formatter, UTF-8 validation against a
 * reference decoder written from the Unicode definition.
 */
#define _DEFAULT_SOURCE /* timegm(), gmtime_r() */
#include "dfint.h"
#include "harness.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

/* Report at most this many failures of a loop, then only the count. */
#define MAX_REPORTED 5

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* xorshift64*: a fixed sequence, so that a failure is reproducible. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static unsigned rnd_below(unsigned n) { return (unsigned)(rnd() % n); }

/* ---- dates ---------------------------------------------------------------- */

static int32_t parse_date(const char *s)
{
    int32_t d = 12345; /* a sentinel: a failed parse must not look like a date */
    return df_date_parse(s, &d) == 0 ? d : DF_NO_DATE;
}

TEST(date_formats)
{
    /* 2016-10-17 is 17091 days after 1970-01-01 (timegm / 86400). */
    EXPECT_INT(parse_date("2016-10-17"), 17091);
    EXPECT_INT(parse_date("2016-10-17T00:00:00"), 17091);
    EXPECT_INT(parse_date("2016-10-17T23:59:59Z"), 17091);
    EXPECT_INT(parse_date("17/10/2016"), 17091);
    EXPECT_INT(parse_date("17-10-2016"), 17091);
    EXPECT_INT(parse_date("14-05-2014"), parse_date("2014-05-14"));
    EXPECT_INT(parse_date("14-05-2014"), 16204);
    EXPECT_INT(parse_date("18 Aug 2014"), 16300);
    EXPECT_INT(parse_date("18-Aug-2014"), 16300);
    EXPECT_INT(parse_date("18 August 2014"), 16300);
    EXPECT_INT(parse_date("18-aug-2014"), 16300);
    EXPECT_INT(parse_date(" 2016-10-17 "), 17091);
    EXPECT_INT(parse_date("1970-01-01"), 0);
}

TEST(date_invalid)
{
    static const char *bad[] = {"2017-13-45",  "2017-02-29", "31/04/2017",  "",           "yesterday",
                                "2016-10-17x", "2016-00-10", "2016-10-00",  "32/01/2016", "17/10/16",
                                "18 Foo 2014", "2016-10",    "17/10/2016/1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int32_t d = 777;
        int rc = df_date_parse(bad[i], &d);
        if (rc != -1) HARNESS_FAIL("df_date_parse(\"%s\"): got %d (days %d), want -1", bad[i], rc, (int)d);
        if (d != 777) HARNESS_FAIL("df_date_parse(\"%s\") wrote *days = %d on failure", bad[i], (int)d);
    }
}

TEST(date_leap_days)
{
    EXPECT_INT(parse_date("2016-02-29"), 16860);
    EXPECT_INT(parse_date("29/02/2016"), 16860);
    EXPECT_INT(parse_date("2000-02-29"), 11016);      /* divisible by 400: leap */
    EXPECT_INT(parse_date("1900-02-29"), DF_NO_DATE); /* divisible by 100: not */
    EXPECT_INT(parse_date("2100-02-29"), DF_NO_DATE);
    EXPECT_INT(parse_date("2017-02-28"), 17225);
    EXPECT_INT(parse_date("2017-03-01"), 17226);
}

TEST(days_from_civil)
{
    EXPECT_INT(df__days_from_civil(1970, 1, 1), 0);
    EXPECT_INT(df__days_from_civil(1969, 12, 31), -1);
    EXPECT_INT(df__days_from_civil(2000, 3, 1), 11017);
    EXPECT_INT(df__days_from_civil(1900, 1, 1), -25567);
}

TEST(date_format_no_date)
{
    char out[11];
    memset(out, 'x', sizeof out);
    df_date_format(DF_NO_DATE, out);
    EXPECT_STR(out, "");
    df_date_format(0, out);
    EXPECT_STR(out, "1970-01-01");
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Every day of 1990..2030 walked with a plain calendar loop; the day number
 * is a running counter started from 1970-01-01 and checked against timegm.
 * Each day is parsed in all its spellings and formatted back. */
TEST(date_round_trip_every_day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int32_t n = 0;
    long bad = 0, checked = 0;
    for (int y = 1970; y <= 2030; y++) {
        for (int m = 1; m <= 12; m++) {
            int dim = mdays[m - 1] + (m == 2 && is_leap(y));
            for (int d = 1; d <= dim; d++, n++) {
                if (y < 1990) continue;
                checked++;
                char iso[32], dmy[32], dmy2[32], named[32], named2[32], out[11];
                snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, m, d);
                snprintf(dmy, sizeof dmy, "%02d/%02d/%04d", d, m, y);
                snprintf(dmy2, sizeof dmy2, "%02d-%02d-%04d", d, m, y);
                snprintf(named, sizeof named, "%d %s %04d", d, mon[m - 1], y);
                snprintf(named2, sizeof named2, "%02d-%s-%04d", d, mon[m - 1], y);

                struct tm tm = {0};
                tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d;
                time_t t = timegm(&tm);
                struct tm back;
                gmtime_r(&t, &back);

                const char *forms[] = {iso, dmy, dmy2, named, named2};
                int ok = t / 86400 == n && back.tm_year == y - 1900 && back.tm_mon == m - 1 && back.tm_mday == d &&
                         df__days_from_civil(y, m, d) == n;
                for (int k = 0; k < 5; k++) ok = ok && parse_date(forms[k]) == n;
                df_date_format(n, out);
                ok = ok && strcmp(out, iso) == 0;
                if (!ok && bad++ < MAX_REPORTED) {
                    EXPECT_INT(t / 86400, n);
                    EXPECT_INT(df__days_from_civil(y, m, d), n);
                    for (int k = 0; k < 5; k++)
                        if (parse_date(forms[k]) != n)
                            HARNESS_FAIL("parse(\"%s\"): got %d, want %d", forms[k], (int)parse_date(forms[k]), (int)n);
                    EXPECT_STR(out, iso);
                }
            }
        }
    }
    EXPECT_INT(bad, 0);
    EXPECT_INT(checked, 14975); /* 41 years, 10 of them leap */
}

/* ---- df__parse_double ----------------------------------------------------- */

static int parse_double_str(const char *s, double *v) { return df__parse_double(s, strlen(s), v); }

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

TEST(parse_double_examples)
{
    static const char *good[] = {"-43.123456",
                                 "36.1",
                                 "0.000001",
                                 "123456789012345",
                                 " 44.5 ",
                                 "\t-0.5\t",
                                 "+7",
                                 ".5",
                                 "5.",
                                 "-0",
                                 "1e5",
                                 "1.5E-3",
                                 "33.31234567890123",
                                 "1234567890123456789",
                                 "0.1"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double got = -999, want = strtod(good[i], NULL);
        int rc = parse_double_str(good[i], &got);
        if (rc != 0 || !same_double(got, want))
            HARNESS_FAIL("df__parse_double(\"%s\"): rc %d, got %.17g, want %.17g", good[i], rc, got, want);
    }
    static const char *bad[] = {"1.2.3",    "abc", "",  "   ", "0x10", "inf", "-inf", "nan",
                                "infinity", "1e",  "-", ".",   "1,5",  "1 2", "12a",  "1e400"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double got = -999;
        int rc = parse_double_str(bad[i], &got);
        if (rc != -1) HARNESS_FAIL("df__parse_double(\"%s\"): got rc %d (%.17g), want -1", bad[i], rc, got);
    }
    /* len bounds the input: the bytes after it are not part of the number */
    double v = 0;
    EXPECT_INT(df__parse_double("12.5xyz", 4, &v), 0);
    EXPECT(v == 12.5);
    EXPECT_INT(df__parse_double("36.125", 3, &v), 0);
    EXPECT(v == 36.0);
    /* a NUL inside the given length is not the end of the number */
    EXPECT_INT(df__parse_double("1.5\0"
                                "7",
                                5, &v),
               -1);
    EXPECT_INT(df__parse_double("1.5e1\0"
                                "7",
                                7, &v),
               -1);
}

/* A valid decimal stays valid however many digits it has (spreadsheets pad
 * with zeros); the value is strtod's. */
TEST(parse_double_long_strings)
{
    char s[300];
    double got = 0;
    strcpy(s, "1.");
    for (int i = 0; i < 80; i++) strcat(s, "0");
    strcat(s, "1");
    EXPECT_INT(parse_double_str(s, &got), 0);
    EXPECT(same_double(got, 1.0));

    strcpy(s, "  -0.");
    for (int i = 0; i < 100; i++) strcat(s, "3");
    strcat(s, "  ");
    EXPECT_INT(parse_double_str(s, &got), 0);
    EXPECT(same_double(got, strtod(s, NULL)));

    /* a 16- and a 17-digit number: beyond the fast path */
    EXPECT_INT(parse_double_str("36.100000000000001", &got), 0);
    EXPECT(same_double(got, strtod("36.100000000000001", NULL)));
    EXPECT_INT(parse_double_str("9007199254740993", &got), 0);
    EXPECT(same_double(got, 9007199254740992.0));
}

/* Appends n random decimal digits to s at *k. */
static void put_digits(char *s, size_t *k, int n)
{
    for (int i = 0; i < n; i++) s[(*k)++] = (char)('0' + rnd_below(10));
}

/* One random decimal string, mostly in the shapes records carry (lat/lon,
 * counts, 15 significant digits or fewer: the fast path), some longer or with
 * exponents (the general path), some with surrounding blanks. */
static void random_decimal(char *s)
{
    size_t k = 0;
    unsigned shape = rnd_below(100);
    if (rnd_below(8) == 0) s[k++] = rnd_below(2) ? ' ' : '\t';
    if (rnd_below(3) == 0)
        s[k++] = '-';
    else if (rnd_below(20) == 0)
        s[k++] = '+';
    if (shape < 40) { /* coordinates: -43.123456, 36.1 */
        put_digits(s, &k, 1 + (int)rnd_below(3));
        s[k++] = '.';
        put_digits(s, &k, 1 + (int)rnd_below(8));
    } else if (shape < 85) { /* up to 15 significant digits anywhere */
        int total = 1 + (int)rnd_below(15), ip = (int)rnd_below((unsigned)total + 1);
        put_digits(s, &k, ip);
        if (ip < total || rnd_below(4) == 0) {
            s[k++] = '.';
            put_digits(s, &k, total - ip);
        }
    } else if (shape < 92) { /* 0.000001, 0.0000123 */
        s[k++] = '0', s[k++] = '.';
        int zeros = (int)rnd_below(8);
        for (int i = 0; i < zeros; i++) s[k++] = '0';
        put_digits(s, &k, 1 + (int)rnd_below(15 - (unsigned)zeros - 1));
    } else if (shape < 97) { /* 16 to 25 digits */
        int total = 16 + (int)rnd_below(10), ip = 1 + (int)rnd_below((unsigned)total);
        put_digits(s, &k, ip);
        s[k++] = '.';
        put_digits(s, &k, total - ip);
    } else { /* with an exponent */
        put_digits(s, &k, 1 + (int)rnd_below(17));
        if (rnd_below(2)) {
            s[k++] = '.';
            put_digits(s, &k, 1 + (int)rnd_below(10));
        }
        s[k++] = rnd_below(2) ? 'e' : 'E';
        if (rnd_below(2)) s[k++] = rnd_below(2) ? '-' : '+';
        put_digits(s, &k, 1 + (int)rnd_below(2));
    }
    if (rnd_below(8) == 0) s[k++] = rnd_below(2) ? ' ' : '\t';
    s[k] = '\0';
}

/* Correct rounding of the fast path: the result must equal strtod's to the
 * bit for a million and a half random decimal strings. */
TEST(parse_double_vs_strtod)
{
    char s[80];
    long bad = 0, n = 1500000;
    for (long i = 0; i < n; i++) {
        random_decimal(s);
        char *stop;
        double want = strtod(s, &stop), got = -12345.0;
        while (*stop == ' ' || *stop == '\t') stop++;
        int want_ok = *stop == '\0' && isfinite(want);
        int rc = parse_double_str(s, &got);
        if ((rc == 0) != want_ok || (want_ok && !same_double(got, want))) {
            if (bad++ < MAX_REPORTED)
                HARNESS_FAIL("df__parse_double(\"%s\"): rc %d got %.17g, want %s %.17g", s, rc, got,
                             want_ok ? "ok" : "reject", want);
        }
    }
    EXPECT_INT(bad, 0);
}

/* ---- df__parse_count ------------------------------------------------------ */

static int64_t count_or(const char *s, int64_t fail)
{
    int64_t v = fail;
    return df__parse_count(s, strlen(s), &v) == 0 ? v : fail;
}

#define NOT_A_COUNT INT64_MIN

TEST(parse_count_examples)
{
    EXPECT_INT(count_or("1,234", NOT_A_COUNT), 1234);
    EXPECT_INT(count_or("1,234,567", NOT_A_COUNT), 1234567);
    EXPECT_INT(count_or("12.0", NOT_A_COUNT), 12);
    EXPECT_INT(count_or("12.000", NOT_A_COUNT), 12);
    EXPECT_INT(count_or("1,234.0", NOT_A_COUNT), 1234);
    EXPECT_INT(count_or("0", NOT_A_COUNT), 0);
    EXPECT_INT(count_or(" 42 ", NOT_A_COUNT), 42);
    EXPECT_INT(count_or("+42", NOT_A_COUNT), 42);
    EXPECT_INT(count_or("-5", NOT_A_COUNT), -5); /* the caller rejects negatives */
    EXPECT_INT(count_or("4294967296", NOT_A_COUNT), 4294967296LL);
    EXPECT_INT(count_or("9223372036854775807", NOT_A_COUNT), INT64_MAX);
    EXPECT_INT(count_or("-9223372036854775807", NOT_A_COUNT), -INT64_MAX);
    EXPECT_INT(count_or("9,223,372,036,854,775,807", NOT_A_COUNT), INT64_MAX);

    static const char *bad[] = {"12.5",
                                "ten",
                                "1,23",
                                "99999999999999999999",
                                "9223372036854775808",
                                "",
                                " ",
                                "-",
                                "1,2345",
                                "1234,567",
                                ",123",
                                "12,",
                                "1.2.0",
                                "0x10",
                                "1e3",
                                "12 3",
                                "12.0.0",
                                "1,,234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t v = 777;
        int rc = df__parse_count(bad[i], strlen(bad[i]), &v);
        if (rc != -1) HARNESS_FAIL("df__parse_count(\"%s\"): got rc %d (%" PRId64 "), want -1", bad[i], rc, v);
    }
    int64_t v = 0;
    EXPECT_INT(df__parse_count("1,234999", 5, &v), 0); /* len bounds the input */
    EXPECT_INT(v, 1234);
}

/* Random values written plainly, with thousands separators, with ".0" and
 * with blanks by a reference formatter, parsed back. */
TEST(parse_count_vs_formatter)
{
    long bad = 0;
    for (int i = 0; i < 200000; i++) {
        int64_t want = (int64_t)(rnd() >> (1 + rnd_below(63))); /* 0..INT64_MAX */
        if (rnd_below(2)) want = -want;
        char plain[32], s[64];
        snprintf(plain, sizeof plain, "%" PRIu64, (uint64_t)(want < 0 ? -want : want));
        size_t k = 0, n = strlen(plain);
        if (rnd_below(4) == 0) s[k++] = ' ';
        if (want < 0) s[k++] = '-';
        int group = rnd_below(2);
        for (size_t j = 0; j < n; j++) {
            if (group && j > 0 && (n - j) % 3 == 0) s[k++] = ',';
            s[k++] = plain[j];
        }
        if (rnd_below(5) == 0) s[k++] = '.', s[k++] = '0';
        if (rnd_below(4) == 0) s[k++] = '\t';
        s[k] = '\0';
        int64_t got = 0;
        int rc = df__parse_count(s, k, &got);
        if ((rc != 0 || got != want) && bad++ < MAX_REPORTED)
            HARNESS_FAIL("df__parse_count(\"%s\"): rc %d, got %" PRId64 ", want %" PRId64, s, rc, got, want);
    }
    EXPECT_INT(bad, 0);
}

/* ---- df__parse_status ----------------------------------------------------- */

static int status_of(const char *s)
{
    df_movement m = (df_movement)42;
    return df__parse_status(s, &m) == 0 ? (int)m : -1;
}

TEST(parse_status)
{
    EXPECT_INT(status_of("Displaced"), DF_DISPLACED);
    EXPECT_INT(status_of("IDPs"), DF_DISPLACED);
    EXPECT_INT(status_of("IDP"), DF_DISPLACED);
    EXPECT_INT(status_of("displaced"), DF_DISPLACED);
    EXPECT_INT(status_of("returnee"), DF_RETURNED);
    EXPECT_INT(status_of("Returnees"), DF_RETURNED);
    EXPECT_INT(status_of("Returned"), DF_RETURNED);
    EXPECT_INT(status_of(" RETURNED "), DF_RETURNED);
    EXPECT_INT(status_of("moved"), -1);
    EXPECT_INT(status_of(""), -1);
    EXPECT_INT(status_of("not displaced"), -1);
}

/* ---- df__utf8_valid ------------------------------------------------------- */

/* Reference: decode each sequence from the definition (RFC 3629) — the
 * shortest form, at most U+10FFFF, no surrogates — and refuse NUL. */
static int ref_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp, n, min;
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            n = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (i + n >= len) return 0; /* truncated */
        for (unsigned j = 1; j <= n; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += n + 1;
    }
    return 1;
}

TEST(utf8_examples)
{
    EXPECT_INT(df__utf8_valid("Mosul, Ninewa", 13), 1);
    const char *ar = "\xd8\xa7\xd9\x84\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1"; /* الزهور */
    EXPECT_INT(df__utf8_valid(ar, strlen(ar)), 1);
    EXPECT_INT(df__utf8_valid("", 0), 1);
    EXPECT_INT(df__utf8_valid("\xc3", 1), 0);             /* lone lead byte */
    EXPECT_INT(df__utf8_valid("ab\xc3", 3), 0);           /* truncated at the end */
    EXPECT_INT(df__utf8_valid("\xc3\xa9", 2), 1);         /* é */
    EXPECT_INT(df__utf8_valid("\xc0\xaf", 2), 0);         /* overlong '/' */
    EXPECT_INT(df__utf8_valid("\xe0\x80\xaf", 3), 0);     /* overlong, 3 bytes */
    EXPECT_INT(df__utf8_valid("\xf0\x80\x80\xaf", 4), 0); /* overlong, 4 bytes */
    EXPECT_INT(df__utf8_valid("a\0b", 3), 0);             /* NUL */
    EXPECT_INT(df__utf8_valid("\xed\xa0\x80", 3), 0);     /* surrogate U+D800 */
    EXPECT_INT(df__utf8_valid("\xed\x9f\xbf", 3), 1);     /* U+D7FF */
    EXPECT_INT(df__utf8_valid("\xf4\x8f\xbf\xbf", 4), 1); /* U+10FFFF */
    EXPECT_INT(df__utf8_valid("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
    EXPECT_INT(df__utf8_valid("\xe3\xd8\xc7\xd1", 4), 0); /* Windows-1256 "مطار" */
    EXPECT_INT(df__utf8_valid("\x80", 1), 0);
    EXPECT_INT(df__utf8_valid("\xff", 1), 0);
    EXPECT_INT(df__utf8_valid("\xc3\xa9", 1), 0); /* len bounds the input */
}

/* Every 1-, 2- and 3-byte string, and 4-byte strings over every lead byte
 * with boundary continuation bytes, against the reference decoder. */
TEST(utf8_exhaustive)
{
    static const unsigned char cont[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xF0, 0xFF};
    long bad = 0;
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        if (df__utf8_valid((char *)s, 1) != ref_utf8_valid(s, 1) && bad++ < MAX_REPORTED)
            HARNESS_FAIL("%02X: got %d, want %d", a, df__utf8_valid((char *)s, 1), ref_utf8_valid(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            if (df__utf8_valid((char *)s, 2) != ref_utf8_valid(s, 2) && bad++ < MAX_REPORTED)
                HARNESS_FAIL("%02X %02X: got %d, want %d", a, b, df__utf8_valid((char *)s, 2), ref_utf8_valid(s, 2));
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                if (df__utf8_valid((char *)s, 3) != ref_utf8_valid(s, 3) && bad++ < MAX_REPORTED)
                    HARNESS_FAIL("%02X %02X %02X: got %d, want %d", a, b, c, df__utf8_valid((char *)s, 3),
                                 ref_utf8_valid(s, 3));
            }
            if (a < 0xF0) continue;
            for (size_t c = 0; c < sizeof cont; c++) {
                for (size_t d = 0; d < sizeof cont; d++) {
                    s[2] = cont[c], s[3] = cont[d];
                    if (df__utf8_valid((char *)s, 4) != ref_utf8_valid(s, 4) && bad++ < MAX_REPORTED)
                        HARNESS_FAIL("%02X %02X %02X %02X: got %d, want %d", a, b, s[2], s[3],
                                     df__utf8_valid((char *)s, 4), ref_utf8_valid(s, 4));
                }
            }
        }
    }
    EXPECT_INT(bad, 0);
}

/* A time of day is allowed after the date and ignored; anything else after
 * it, or a word that only starts like a month, is not a date. */
TEST(date_time_suffix_and_month_words)
{
    static const char *good[] = {
        "2016-10-17T00:00:00", "2016-10-17 12:30:00", "2016-10-17T00:00:00Z", "2016-10-17T00:00:00+03:00",
        "17 October 2016",     "17 Oct. 2016",        "17 Octob 2016"};
    static const char *bad[] = {"2016-10-17Tgarbage", "2016-10-17T", "18 Junk 2014", "18 Ju 2014", "18 Augusto 2014"};
    int32_t d;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        d = 0;
        EXPECT_INT(df_date_parse(good[i], &d), 0);
        EXPECT_INT(d, 17091); /* 2016-10-17 */
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (df_date_parse(bad[i], &d) == 0) HARNESS_FAIL("\"%s\" parsed as a date", bad[i]);
}

int main(void)
{
    RUN(date_time_suffix_and_month_words);
    RUN(date_formats);
    RUN(date_invalid);
    RUN(date_leap_days);
    RUN(days_from_civil);
    RUN(date_format_no_date);
    RUN(date_round_trip_every_day);
    RUN(parse_double_examples);
    RUN(parse_double_long_strings);
    RUN(parse_double_vs_strtod);
    RUN(parse_count_examples);
    RUN(parse_count_vs_formatter);
    RUN(parse_status);
    RUN(utf8_examples);
    RUN(utf8_exhaustive);
    return harness_done();
}
