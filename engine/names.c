/*
 * names.c — normalisation of place names and P-codes for exact matching.
 *
 * Names: "Al-Mosul", "Al Mosul", "mosul" and "AL MOSUL" all become "mosul":
 * ASCII letters are lower-cased, the string is cut into tokens at spaces,
 * hyphens, apostrophes, backticks, dots and other punctuation, Arabic-style
 * article tokens (al, el, ad, as, at, ar, an, ash, az, adh) are dropped
 * wherever they stand, and the remaining tokens are joined without spaces.
 * Bytes >= 0x80 (Arabic script, accented letters) are kept as they are; the
 * reconciliation stage adds Unicode folding, aliases and fuzzy matching.
 *
 * P-codes: "IRQ-G15Q05", "iqg15q05" and "IQ G15 Q05" all become "IQG15Q05".
 */
#include "dfint.h"

#include <ctype.h>
#include <string.h>

static int is_article(const char *tok, size_t n)
{
    static const char *articles[] = {"al", "el", "ad", "as", "at", "ar", "an", "ash", "az", "adh"};
    for (size_t i = 0; i < sizeof articles / sizeof *articles; i++)
        if (strlen(articles[i]) == n && memcmp(tok, articles[i], n) == 0) return 1;
    return 0;
}

void df__name_normalize(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    if (cap == 0) return;
    while (*p) {
        /* one token: a run of letters, digits and non-ASCII bytes */
        char tok[256];
        size_t n = 0;
        while (*p && (isalnum(*p) || *p >= 0x80)) {
            if (n + 1 < sizeof tok) tok[n++] = (char)(*p < 0x80 ? tolower(*p) : *p);
            p++;
        }
        if (n > 0 && !is_article(tok, n)) {
            if (o + n >= cap) n = cap - 1 - o;
            memcpy(out + o, tok, n);
            o += n;
        }
        while (*p && !(isalnum(*p) || *p >= 0x80)) p++; /* separators */
    }
    out[o] = '\0';
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
