/*
 * sample.c — the embedded sample records: a synthetic, deterministic
 * Emergency-Tracking-style CSV of Mosul-corridor displacement and returns,
 * 17 Oct 2016 to 30 Jun 2017. Names come in the spellings field teams use,
 * so that the reconciliation has real work to do; the figures are invented.
 */
#include "df_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { G_NINEWA, G_ERBIL, G_DOHUK, G_KIRKUK, G_SALAHADDIN, G_COUNT };

/* Spellings seen in field tables, NULL-terminated. */
static const char *const gov_variants[G_COUNT][5] = {
    [G_NINEWA] = {"Ninewa", "NINEWA", "Ninawa", "Nineveh", NULL},
    [G_ERBIL] = {"Erbil", "Arbil", "Hawler", NULL},
    [G_DOHUK] = {"Dohuk", "Duhok", "Dahuk", "Dihok", NULL},
    [G_KIRKUK] = {"Kirkuk", "Kerkuk", "At-Ta'mim", NULL},
    [G_SALAHADDIN] = {"Salah al-Din", "Salahuddin", "Sala ad-Din", NULL},
};

/* Rows without coordinates are joined by name alone: these spellings
 * normalise exactly to the Natural Earth adm1_name shipped in shapes/. */
static const char *const gov_exact[G_COUNT][3] = {
    [G_NINEWA] = {"Ninawa", "NINAWA", NULL},
    [G_ERBIL] = {"Arbil", "ARBIL", NULL},
    [G_DOHUK] = {"Dihok", NULL},
    [G_KIRKUK] = {"At-Ta'mim", "At Ta'mim", NULL},
    [G_SALAHADDIN] = {"Sala ad-Din", "Sala ad Din", NULL},
};

enum {
    D_MOSUL,
    D_HAMDANIYA,
    D_TILKAIF,
    D_TELAFAR,
    D_HATRA,
    D_SHIKHAN,
    D_BAAJ,
    D_MAKHMOUR,
    D_SHIRQAT,
    D_HAWIGA,
    D_AQRA,
    D_SINJAR,
    D_ERBIL,
    D_DOHUK,
    D_ZAKHO,
    D_KIRKUK,
    D_TIKRIT,
    D_BAIJI,
    D_COUNT
};

static const char *const district_variants[D_COUNT][5] = {
    [D_MOSUL] = {"Mosul", "Al-Mosul", "Al Mosul", "mosul", NULL},
    [D_HAMDANIYA] = {"Al-Hamdaniya", "Hamdaniya", "Al Hamdaniya", "Al-Hamdaniyah", NULL},
    [D_TILKAIF] = {"Tel Kaif", "Tilkaif", "Tilkaef", "Telkaif", NULL},
    [D_TELAFAR] = {"Telafar", "Tal Afar", "Tel Afar", NULL},
    [D_HATRA] = {"Al-Hatra", "Hatra", "Al-Hadar", NULL},
    [D_SHIKHAN] = {"Al-Shikhan", "Shikhan", "Shekhan", "Al Shikhan", NULL},
    [D_BAAJ] = {"Al-Baaj", "Baaj", "Al-Ba'aj", NULL},
    [D_MAKHMOUR] = {"Makhmour", "Makhmur", NULL},
    [D_SHIRQAT] = {"Al-Shirqat", "Shirqat", "Sharqat", NULL},
    [D_HAWIGA] = {"Al-Hawiga", "Hawija", "Al Hawija", NULL},
    [D_AQRA] = {"Aqra", "Akre", "Aqrah", NULL},
    [D_SINJAR] = {"Sinjar", "Shingal", NULL},
    [D_ERBIL] = {"Erbil", "Arbil", "Hawler", NULL},
    [D_DOHUK] = {"Dohuk", "Duhok", "Dahuk", NULL},
    [D_ZAKHO] = {"Zakho", "Zakhu", NULL},
    [D_KIRKUK] = {"Kirkuk", "Kerkuk", NULL},
    [D_TIKRIT] = {"Tikrit", "Tekrit", NULL},
    [D_BAIJI] = {"Baiji", "Beji", "Bayji", NULL},
};

/* The governorate of each district (COD-AB 2019). */
static const unsigned char district_gov[D_COUNT] = {
    [D_MOSUL] = G_NINEWA,       [D_HAMDANIYA] = G_NINEWA, [D_TILKAIF] = G_NINEWA, [D_TELAFAR] = G_NINEWA,
    [D_HATRA] = G_NINEWA,       [D_SHIKHAN] = G_NINEWA,   [D_BAAJ] = G_NINEWA,    [D_MAKHMOUR] = G_ERBIL,
    [D_SHIRQAT] = G_SALAHADDIN, [D_HAWIGA] = G_KIRKUK,    [D_AQRA] = G_NINEWA,    [D_SINJAR] = G_NINEWA,
    [D_ERBIL] = G_ERBIL,        [D_DOHUK] = G_DOHUK,      [D_ZAKHO] = G_DOHUK,    [D_KIRKUK] = G_KIRKUK,
    [D_TIKRIT] = G_SALAHADDIN,  [D_BAIJI] = G_SALAHADDIN,
};

/* Weights of origin districts of the displaced, before and after the
 * west-Mosul offensive (19 Feb 2017). */
static const unsigned char origin_weight[2][D_COUNT] = {
    {[D_MOSUL] = 55,
     [D_HAMDANIYA] = 14,
     [D_TILKAIF] = 8,
     [D_TELAFAR] = 4,
     [D_HATRA] = 3,
     [D_SHIKHAN] = 3,
     [D_BAAJ] = 2,
     [D_MAKHMOUR] = 4,
     [D_SHIRQAT] = 5,
     [D_HAWIGA] = 2},
    {[D_MOSUL] = 75,
     [D_HAMDANIYA] = 3,
     [D_TILKAIF] = 4,
     [D_TELAFAR] = 6,
     [D_HATRA] = 4,
     [D_SHIKHAN] = 1,
     [D_BAAJ] = 3,
     [D_MAKHMOUR] = 1,
     [D_SHIRQAT] = 2,
     [D_HAWIGA] = 1},
};

typedef struct {
    const char *name;
    double lat, lon;
    unsigned char gov, district, camp;
    /* Relative weights: displaced into it during the east-Mosul phase, the
     * west-Mosul phase; returns to it. */
    unsigned char w_east, w_west, w_return;
} sample_place;

/* Coordinates are approximate, from general knowledge (not surveyed). */
static const sample_place places[] = {
    {"Mosul", 36.34, 43.13, G_NINEWA, D_MOSUL, 0, 2, 3, 12},
    {"Mosul, left bank", 36.36, 43.17, G_NINEWA, D_MOSUL, 0, 1, 5, 0},
    {"Gogjali", 36.36, 43.22, G_NINEWA, D_MOSUL, 0, 2, 2, 4},
    {"Hammam al-Alil camp", 36.16, 43.25, G_NINEWA, D_MOSUL, 1, 1, 14, 0},
    {"Hammam al-Alil", 36.17, 43.26, G_NINEWA, D_MOSUL, 0, 1, 3, 3},
    {"Qayyarah", 35.80, 43.29, G_NINEWA, D_MOSUL, 0, 4, 4, 5},
    {"Jeddah camp", 35.85, 43.21, G_NINEWA, D_MOSUL, 1, 2, 12, 0},
    {"Haj Ali camp", 35.72, 43.30, G_NINEWA, D_MOSUL, 1, 3, 6, 0},
    {"Khazer M1 camp", 36.30, 43.60, G_NINEWA, D_HAMDANIYA, 1, 10, 6, 0},
    {"Hasansham U2 camp", 36.29, 43.58, G_NINEWA, D_HAMDANIYA, 1, 8, 4, 0},
    {"Chamakor camp", 36.33, 43.62, G_NINEWA, D_HAMDANIYA, 1, 6, 4, 0},
    {"Debaga camp", 35.88, 43.83, G_ERBIL, D_MAKHMOUR, 1, 7, 2, 0},
    {"Qaraqosh", 36.27, 43.38, G_NINEWA, D_HAMDANIYA, 0, 1, 2, 2},
    {"Tel Kaif", 36.49, 43.12, G_NINEWA, D_TILKAIF, 0, 0, 1, 2},
    {"Bartella", 36.35, 43.38, G_NINEWA, D_HAMDANIYA, 0, 1, 2, 3},
    {"Bashiqa", 36.45, 43.35, G_NINEWA, D_MOSUL, 0, 0, 1, 2},
    {"Alqosh", 36.73, 43.10, G_NINEWA, D_TILKAIF, 0, 1, 1, 1},
    {"Erbil", 36.19, 44.01, G_ERBIL, D_ERBIL, 0, 4, 3, 0},
    {"Baharka camp", 36.29, 44.03, G_ERBIL, D_ERBIL, 1, 2, 2, 0},
    {"Harshm camp", 36.21, 44.06, G_ERBIL, D_ERBIL, 1, 2, 2, 0},
    {"Dohuk", 36.87, 42.99, G_DOHUK, D_DOHUK, 0, 2, 2, 0},
    {"Zakho", 37.14, 42.68, G_DOHUK, D_ZAKHO, 0, 1, 1, 0},
    {"Kirkuk", 35.47, 44.39, G_KIRKUK, D_KIRKUK, 0, 3, 2, 0},
    {"Laylan camp", 35.30, 44.55, G_KIRKUK, D_KIRKUK, 1, 3, 2, 0},
    {"Tikrit", 34.61, 43.68, G_SALAHADDIN, D_TIKRIT, 0, 2, 2, 0},
    {"Al-Alam", 34.68, 43.70, G_SALAHADDIN, D_TIKRIT, 0, 1, 1, 0},
    {"Makhmour", 35.78, 43.58, G_ERBIL, D_MAKHMOUR, 0, 2, 1, 2},
    {"Sinjar", 36.32, 41.87, G_NINEWA, D_SINJAR, 0, 1, 1, 0},
    {"Shirqat", 35.51, 43.23, G_SALAHADDIN, D_SHIRQAT, 0, 2, 1, 4},
    {"Aqrah", 36.76, 43.89, G_NINEWA, D_AQRA, 0, 1, 1, 0},
    {"Ain Sifni", 36.70, 43.35, G_NINEWA, D_SHIKHAN, 0, 1, 1, 0},
    {"Baiji", 34.93, 43.49, G_SALAHADDIN, D_BAIJI, 0, 1, 1, 0},
    {"Zelikan camp", 36.55, 43.34, G_NINEWA, D_SHIKHAN, 1, 4, 2, 0},
    {"Nargizlia camp", 36.62, 43.45, G_NINEWA, D_SHIKHAN, 1, 4, 3, 0},
    {"Salamiyah camp", 36.12, 43.33, G_NINEWA, D_HAMDANIYA, 1, 1, 6, 0},
    {"Nimrud", 36.10, 43.33, G_NINEWA, D_HAMDANIYA, 0, 0, 1, 2},
};
#define NPLACES ((int)(sizeof places / sizeof places[0]))

#define WEST_OFFENSIVE_DAY 125 /* 19 Feb 2017, counted from 17 Oct 2016 */
#define NDAYS              257 /* 17 Oct 2016 .. 30 Jun 2017 */

/* splitmix64: tiny, portable, and the same sequence everywhere. */
typedef struct {
    uint64_t s;
} sample_rng;

static uint64_t rng_next(sample_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static unsigned rng_below(sample_rng *r, unsigned n) { return (unsigned)(rng_next(r) % n); }

static const char *pick_spelling(sample_rng *r, const char *const *list)
{
    unsigned n = 0;
    while (list[n]) n++;
    return list[rng_below(r, n)];
}

/* Index drawn with probability proportional to w[i]. */
static int pick_index(sample_rng *r, const unsigned char *w, int n)
{
    unsigned total = 0, k;
    for (int i = 0; i < n; i++) total += w[i];
    k = rng_below(r, total);
    for (int i = 0; i < n; i++) {
        if (k < w[i]) return i;
        k -= w[i];
    }
    return 0; /* not reached */
}

enum { W_EAST, W_WEST, W_RETURN, W_CAMP };

static const sample_place *pick_place(sample_rng *r, int kind)
{
    unsigned char w[NPLACES];
    for (int i = 0; i < NPLACES; i++) {
        const sample_place *p = &places[i];
        w[i] = kind == W_EAST     ? p->w_east
               : kind == W_WEST   ? p->w_west
               : kind == W_RETURN ? p->w_return
               : p->camp          ? (unsigned char)(p->w_east + p->w_west) /* small */
                                  : 0;
    }
    return &places[pick_index(r, w, NPLACES)];
}

/* One field, quoted per RFC 4180 only when it must be, then the separator.
 * Returns -1 on a write error (errno set by stdio). */
static int put_field(FILE *f, const char *s, int last)
{
    return df__csv_put(f, s) != 0 || fputc(last ? '\n' : ',', f) == EOF ? -1 : 0;
}

/* Degrees with 4 decimals from an integer in 1e-4 degrees: exact, and the
 * same bytes on every platform. */
static void format_coord(char out[24], double deg, int jitter)
{
    long v = (long)(deg * 10000.0 + (deg < 0 ? -0.5 : 0.5)) + jitter;
    long a = v < 0 ? -v : v;
    snprintf(out, 24, "%s%ld.%04ld", v < 0 ? "-" : "", a / 10000, a % 10000);
}

static int write_row(FILE *f, sample_rng *r, const char *date, int day, int returned)
{
    int phase = day >= WEST_OFFENSIVE_DAY;
    const sample_place *p = pick_place(r, returned ? W_RETURN : phase ? W_WEST : W_EAST);
    int no_coords = rng_below(r, 100) < 5;
    char lat[24] = "", lon[24] = "", fam[24], ind[24] = "";
    const char *origin, *origin_gov, *from = "", *from_gov = "", *shelter;
    unsigned a = rng_below(r, 100);
    long families;

    if (!no_coords) {
        /* Within 0.02 degree: field teams' GPS fixes scatter round a site. */
        format_coord(lat, p->lat, (int)rng_below(r, 401) - 200);
        format_coord(lon, p->lon, (int)rng_below(r, 401) - 200);
    }
    if (returned) {
        /* Home again: origin is the district returned to; they left a camp. */
        origin = pick_spelling(r, district_variants[p->district]);
        origin_gov = pick_spelling(r, gov_exact[p->gov]);
        const sample_place *camp = pick_place(r, W_CAMP);
        from = pick_spelling(r, district_variants[camp->district]);
        /* the governorate too, so that returns count at admin 1 as well */
        from_gov = pick_spelling(r, gov_exact[camp->gov]);
        shelter = "Private setting";
        families = 1 + (long)(a * a / 150);
    } else {
        int d = pick_index(r, origin_weight[phase], D_COUNT);
        origin = pick_spelling(r, district_variants[d]);
        /* the governorate too, so that flows can be drawn between governorates */
        origin_gov = pick_spelling(r, gov_exact[district_gov[d]]);
        shelter = p->camp ? "Camp" : "Private setting";
        families = 1 + (long)(p->camp ? a * a * a / 4000 : a * a / 400);
    }
    snprintf(fam, sizeof fam, "%ld", families);
    if (rng_below(r, 100) >= 3) /* a few rows leave the household-size rule to the engine */
        snprintf(ind, sizeof ind, "%ld", families * 6);

    /* Calls kept out of the initialiser: its evaluation order is unspecified. */
    const char *gov = pick_spelling(r, no_coords ? gov_exact[p->gov] : gov_variants[p->gov]);
    const char *district = pick_spelling(r, district_variants[p->district]);
    const char *fields[14] = {date,       returned ? "Returned" : "Displaced",
                              gov,        district,
                              p->name,    lat,
                              lon,        shelter,
                              origin_gov, origin,
                              from_gov,   from,
                              fam,        ind};
    for (int i = 0; i < 14; i++)
        if (put_field(f, fields[i], i == 13) < 0) return -1;
    return 0;
}

/* Rows per day, in tenths: displacement peaks with the west-Mosul offensive;
 * returns start once the east bank is retaken and grow. */
static void day_rates(int day, unsigned *displaced10, unsigned *returned10)
{
    *displaced10 = day < 76 ? 60 : day < WEST_OFFENSIVE_DAY ? 50 : 100;
    *returned10 = day < 46 ? 0 : day < 76 ? 5 : day < WEST_OFFENSIVE_DAY ? 25 : 40;
}

/* Draw a count with mean rate10/10 (stochastic rounding of a spread rate). */
static unsigned draw_count(sample_rng *r, unsigned rate10)
{
    return (rate10 * (5 + rng_below(r, 11)) / 10 + rng_below(r, 10)) / 10;
}

static int write_all(FILE *f, unsigned seed)
{
    static const int mdays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    sample_rng r = {seed};
    int y = 2016, m = 10, d = 17;
    char date[48]; /* room for any int, to satisfy -Wformat-truncation */

    if (fputs("Date,Status,Governorate,District,Location,Latitude,Longitude,Shelter,"
              "Governorate of Origin,District of Origin,Governorate of Displacement,District of "
              "Displacement,Families,Individuals\n",
              f) == EOF)
        return -1;
    for (int day = 0; day < NDAYS; day++) {
        unsigned rd, rr, nd, nr;
        day_rates(day, &rd, &rr);
        nd = draw_count(&r, rd);
        nr = draw_count(&r, rr);
        snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, d);
        while (nd + nr > 0) { /* interleave statuses within the day */
            int returned = rng_below(&r, nd + nr) < nr;
            if (write_row(f, &r, date, day, returned) < 0) return -1;
            if (returned)
                nr--;
            else
                nd--;
        }
        if (++d > mdays[m]) { /* no leap day in this period */
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    return 0;
}

df_status df_sample_write(df_ctx *ctx, const char *path, unsigned seed)
{
    char tmp[4096];
    df_status st;
    FILE *f;

    if (!ctx) return DF_EINVAL;
    if (!path || !*path) return df__error(ctx, DF_EINVAL, "sample: no output path");
    st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    f = fopen(tmp, "w");
    if (!f) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    (void)write_all(f, seed); /* stops at the first failed write, which leaves ferror(f) set */
    return df__commit_file(ctx, f, tmp, path);
}
