/*
 * names.c — normalisation of place names and P-codes for exact matching.
 *
 * Names: "Al-Mosul", "Al Mosul", "mosul" and "AL MOSUL" all become "mosul":
 * ASCII letters are lower-cased, the string is cut into tokens at spaces,
 * hyphens, apostrophes, backticks, dots and other punctuation, Arabic-style
 * article tokens (al, el, ad, as, at, ar, an, ash, az, adh) are dropped
 * wherever they stand, and the remaining tokens are joined without spaces.
 * Unicode is folded first (accents off, Arabic letter variants to one form,
 * harakat and tatweel dropped, the joined Arabic article ال removed), and
 * words that only say the kind of unit go, in English, French, Spanish,
 * Portuguese and Arabic transliteration (District, Governorate, Qadha,
 * "Commune de", "Département du", Municipio, Provincia, Wilaya, Mohafaza,
 * Localité), unless nothing else is left; French elided d' and l' go too.
 * St., Ste., S., Sta., Sto. are Saint, Sainte, São, Santa, Santo.
 *
 * P-codes: "IRQ-G15Q05", "iqg15q05" and "IQ G15 Q05" all become "IQG15Q05".
 */
#include "df_core.h"

#include <ctype.h>
#include <string.h>

static int is_article(const char *tok, size_t n)
{
    static const char *articles[] = {"al", "el", "ad", "as", "at", "ar", "an", "ash", "az", "adh"};
    for (size_t i = 0; i < sizeof articles / sizeof *articles; i++)
        if (strlen(articles[i]) == n && memcmp(tok, articles[i], n) == 0) return 1;
    return 0;
}

static int in_list(const char *tok, size_t n, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == n && memcmp(tok, words[i], n) == 0) return 1;
    return 0;
}

/* Words that say what kind of unit a name is, not which: "Mosul District",
 * "Ninewa Governorate", "Qadha Sinjar", "Commune de Jacmel", "Département
 * du Lac", "Section communale", "Municipio de Cuilapa", "Provincia de
 * Nampula", "Wilaya de Tunis", "Mohafaza", "Localité", "Gedaref State",
 * "Kassala Locality" (folded: no accents, lower case). */
static int is_unit_word(const char *tok, size_t n)
{
    static const char *const words[] = {
        "district",     "governorate",  "province",  "qada",        "qadha",    "qadaa",     "kadha",
        "muhafazat",    "muhafaza",     "nahiya",    "subdistrict", "commune",  "communale", "departement",
        "department",   "departamento", "section",   "localite",    "locality", "municipio", "municipalite",
        "municipality", "provincia",    "distrito",  "wilaya",      "wilayah",  "wilayat",   "mohafaza",
        "mohafazat",    "mouhafaza",    "muhafazah", "prefecture",  "region",   "state",     "county",
        "concelho",     "estado",       "mahaliya",  "mahaliyat",   NULL};
    return in_list(tok, n, words);
}

/* The joining word right after a unit word: "Commune de", "Département
 * du", "Provincia de". Dropped only there ("Kafr de Dawwar" keeps its own),
 * and only one: the article after it is the name's ("Département de La
 * Nya" is La Nya, "Provincia de La Habana" La Habana). */
static int is_connector(const char *tok, size_t n)
{
    static const char *const words[] = {"de", "du", "des", "del", "da", "do", "dos", "das", NULL};
    return in_list(tok, n, words);
}

/* Abbreviations written out: St. Saint, Ste. Sainte, S. São, Sta. Santa,
 * Sto. Santo (folded); NULL when tok is none. */
static const char *expansion(const char *tok, size_t n)
{
    static const char *const abbr[][2] = {
        {"st", "saint"}, {"ste", "sainte"}, {"s", "sao"}, {"sta", "santa"}, {"sto", "santo"}};
    for (size_t i = 0; i < sizeof abbr / sizeof *abbr; i++)
        if (strlen(abbr[i][0]) == n && memcmp(tok, abbr[i][0], n) == 0) return abbr[i][1];
    return NULL;
}

int df__name_missing(const char *s)
{
    static const char *const missing[] = {"",
                                          "-",
                                          "--",
                                          "?",
                                          "n/a",
                                          "#n/a",
                                          "na",
                                          "n.a.",
                                          "none",
                                          "null",
                                          "nil",
                                          "unknown",
                                          "not available",
                                          "not applicable",
                                          "not specified",
                                          "not known",
                                          NULL};
    char low[32];
    size_t n = 0;
    if (!s) return 1;
    while (*s == ' ' || *s == '\t') s++;
    switch (*s) { /* most names are known at their first letter: this runs for every row */
    case '\0':
    case '-':
    case '?':
    case '#':
    case 'n':
    case 'N':
    case 'u':
    case 'U':
        break;
    default:
        return 0;
    }
    for (; *s && n + 1 < sizeof low; s++) low[n++] = (char)tolower((unsigned char)*s);
    if (*s) return 0; /* longer than any missing value */
    while (n && (low[n - 1] == ' ' || low[n - 1] == '\t')) n--;
    return in_list(low, n, missing);
}

/* Decode one UTF-8 sequence into *cp; returns its length (1 for an invalid
 * byte, which is kept as U+FFFD). */
static int utf8_decode(const unsigned char *p, unsigned *cp)
{
    if (p[0] < 0x80) return *cp = p[0], 1;
    int n = p[0] >= 0xF0 ? 3 : p[0] >= 0xE0 ? 2 : p[0] >= 0xC0 ? 1 : -1;
    if (n < 0) return *cp = 0xFFFD, 1;
    unsigned v = p[0] & (0x3F >> n);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) return *cp = 0xFFFD, 1;
        v = v << 6 | (p[i] & 0x3F);
    }
    return *cp = v, n + 1;
}

static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
               out[2] = (char)(0x80 | (cp & 0x3F)), 3;
    out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Latin letters with diacritics, U+00C0..U+017F, to their ASCII letter
 * ('.' where there is none: the code point is kept). */
static const char latin_fold[] = "AAAAAAACEEEEIIIIDNOOOOO.OUUUUYTsaaaaaaaceeeeiiiidnooooo.ouuuuyty"
                                 "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjJjKkkLlLlLlLlLlNnNnNnnNn"
                                 "OoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

#define CP_DROP 0u          /* not part of a name: diacritics, tatweel, joiners */
#define CP_SEP  0xFFFFFFFFu /* separates words */

/* The folding the comparison of names needs (a targeted NFKC): fullwidth
 * forms to ASCII, Latin diacritics off, Arabic letter variants to one form
 * (alef with hamza or madda to alef, taa marbuta to haa, alef maqsura and
 * Persian yeh to yaa, keheh to kaf), Arabic-Indic digits to ASCII, harakat
 * and tatweel dropped, the many apostrophes and dashes to separators. */
static unsigned fold_cp(unsigned cp)
{
    /* apostrophes join: Qal'at is one word, not Qal + the article at */
    if (cp == '\'' || cp == '`' || (cp >= 0x2B0 && cp <= 0x2FF) || (cp >= 0x2018 && cp <= 0x201B)) return CP_DROP;
    if (cp < 0x80) return isalnum((int)cp) ? (unsigned)tolower((int)cp) : CP_SEP;
    if (cp >= 0xFF01 && cp <= 0xFF5E) return fold_cp(cp - 0xFEE0); /* fullwidth */
    if (cp >= 0xC0 && cp <= 0x17F && cp != 0xD7 && cp != 0xF7) {
        char c = latin_fold[cp - 0xC0];
        return c == '.' ? cp : (unsigned)tolower(c);
    }
    if (cp == 0xD7 || cp == 0xF7 || (cp >= 0xA0 && cp < 0xC0)) return CP_SEP;
    if ((cp >= 0x2B0 && cp <= 0x2FF) || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x60C || cp == 0x61B || cp == 0x61F ||
        cp == 0x66A || cp == 0x66B || cp == 0x66C || cp == 0x6D4 || cp == 0x3000)
        return cp >= 0x200B && cp <= 0x200F ? CP_DROP : CP_SEP; /* modifier letters ʻ ʼ ʿ, punctuation */
    if (cp >= 0x300 && cp <= 0x36F) return CP_DROP;             /* combining diacritics */
    if ((cp >= 0x64B && cp <= 0x65F) || cp == 0x670 || cp == 0x640) return CP_DROP; /* harakat, tatweel */
    if (cp >= 0x660 && cp <= 0x669) return '0' + (cp - 0x660);                      /* Arabic-Indic digits */
    if (cp >= 0x6F0 && cp <= 0x6F9) return '0' + (cp - 0x6F0);
    switch (cp) {
    case 0x622:
    case 0x623:
    case 0x625:
    case 0x671:
        return 0x627; /* alef forms */
    case 0x629:
        return 0x647; /* taa marbuta */
    case 0x649:
    case 0x6CC:
        return 0x64A; /* alef maqsura, Persian yeh */
    case 0x6A9:
        return 0x643; /* keheh */
    default:
        return cp;
    }
}

static int is_apostrophe(unsigned cp) { return cp == '\'' || cp == '`' || cp == 0x2019 || cp == 0x2BC; }

/* One pass of the normalisation; drop_units = 0 keeps the unit words (for
 * a name made of nothing else: "Centre", "Commune"). */
static size_t normalize_pass(const char *in, char *out, size_t cap, int drop_units)
{
    size_t o = 0;
    int after_unit = 0; /* the previous word said what kind of unit */
    const unsigned char *p = (const unsigned char *)in;
    while (*p) {
        /* one word: folded code points up to a separator */
        char tok[256];
        size_t n = 0;
        unsigned cp;
        int elided = 0; /* French d' or l' before a word */
        while (*p) {
            int len = utf8_decode(p, &cp);
            if (n == 1 && (tok[0] == 'd' || tok[0] == 'l') && is_apostrophe(cp) && isalpha(p[len])) {
                p += len, elided = 1;
                break;
            }
            unsigned f = fold_cp(cp);
            if (f == CP_SEP) break;
            p += len;
            if (f != CP_DROP && n + 4 < sizeof tok) n += utf8_encode(f, tok + n);
        }
        while (*p) { /* the separators */
            int len = utf8_decode(p, &cp);
            if (fold_cp(cp) != CP_SEP) break;
            p += len;
        }
        /* the Arabic article, written joined: الموصل = الموصل without ال */
        size_t skip = n > 4 && memcmp(tok, "\xD8\xA7\xD9\x84", 4) == 0 ? 4 : 0;
        if (n == 0 || elided || is_article(tok, n)) continue;
        if (is_unit_word(tok, n) && drop_units) {
            after_unit = 1;
            continue;
        }
        if (after_unit && drop_units && is_connector(tok, n)) {
            after_unit = 0;
            continue;
        }
        after_unit = 0;
        const char *full = expansion(tok, n);
        if (full) n = strlen(full), memcpy(tok, full, n), skip = 0;
        n -= skip;
        /* truncate on a character boundary */
        if (o + n >= cap) {
            n = cap - 1 - o;
            while (n > 0 && ((unsigned char)tok[skip + n] & 0xC0) == 0x80) n--;
        }
        memcpy(out + o, tok + skip, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

void df__name_normalize(const char *in, char *out, size_t cap)
{
    if (cap == 0) return;
    if (normalize_pass(in, out, cap, 1) == 0) normalize_pass(in, out, cap, 0);
}

/* The consonant skeleton of a normalised name, for spellings that differ
 * in transliteration only: q→k, dh→d, ph→f, w→u, y→i, an h closing a
 * word, doubled letters, then every vowel but a leading one. Tilkaif,
 * Tilkaef and Telkaif are all "tlkf"; Makhmour and Makhmur "mkhmr";
 * Hamdaniya and Hamdaniyah "hmdn". Non-ASCII bytes are kept. */
void df__name_skeleton(const char *normalized, char *out, size_t cap)
{
    char tmp[256];
    size_t n = 0, o = 0;
    if (cap == 0) return;
    for (const char *p = normalized; *p && n + 1 < sizeof tmp; p++) {
        char c = *p;
        if (c == 'q')
            c = 'k';
        else if (c == 'w')
            c = 'u';
        else if (c == 'y')
            c = 'i';
        else if ((c == 'd' || c == 'p') && p[1] == 'h')
            c = c == 'p' ? 'f' : 'd', p++;
        else if (c == 'h' && p[1] == '\0' && n > 0 && strchr("aeiou", tmp[n - 1]))
            continue;
        if (n > 0 && tmp[n - 1] == c) continue; /* doubled letters */
        tmp[n++] = c;
    }
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        if (i == 0 || !strchr("aeiou", tmp[i])) out[o++] = tmp[i];
    out[o] = '\0';
}

/* Optimal string alignment distance (Levenshtein with transpositions) of
 * two byte strings, capped at `limit` + 1 for speed. */
int df__name_distance(const char *a, const char *b, int limit)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return limit + 1;
    if (la - lb > limit || lb - la > limit) return limit + 1;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        int row_min = d[i][0]; /* the row starts at column 0: an empty b gave limit + 1, not la */
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < row_min) row_min = v;
        }
        if (row_min > limit) return limit + 1;
    }
    /* the early exit above misses a distance that only grows past the limit
     * in the last rows ("ul" vs "mstskr", limit 4, gave 6): cap it too, as
     * the contract says (found by tests/fuzz/fuzz_names.c) */
    return d[la][lb] > limit ? limit + 1 : d[la][lb];
}

void df__pcode_normalize(const char *in, char *out, size_t cap)
{
    size_t o = 0, k = 0; /* k counts the alphanumerics of the input */
    char head[4] = {0};
    if (cap == 0) return;
    /* DTM writes the ISO alpha-3 country prefix (IRQ-G15Q05) where COD-AB
     * uses the alpha-2 one (IQG15Q05). Decide on the input, before any
     * truncation: rewriting the truncated output lost the last character
     * when cap fitted the result exactly ("IQG15Q0" at cap 9). */
    for (const unsigned char *p = (const unsigned char *)in; *p && k < 4; p++)
        if (isalnum(*p)) head[k++] = (char)toupper(*p);
    int drop_r = k == 4 && memcmp(head, "IRQG", 4) == 0;
    k = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < cap; p++) {
        if (!isalnum(*p)) continue;
        if (k++ == 1 && drop_r) continue; /* the R of IRQ */
        out[o++] = (char)toupper(*p);
    }
    out[o] = '\0';
}
