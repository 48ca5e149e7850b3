/*
 * escape.c — the one XML/HTML escaper (issue 17 item 29): the QGIS project,
 * the situation report's HTML. Text and attribute values alike: & < > and "
 * become entities; everything else, UTF-8 included, stands for itself.
 */
#include "df_core.h"

#include <string.h>

/* The entity of c, or NULL when c stands for itself. */
static const char *entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    default:
        return NULL;
    }
}

size_t df__xml_escape(const char *s, char *out)
{
    size_t n = 0;
    for (; s && *s; s++) {
        const char *e = entity(*s);
        size_t len = e ? strlen(e) : 1;
        if (out) memcpy(out + n, e ? e : s, len);
        n += len;
    }
    if (out) out[n] = '\0';
    return n;
}

void df__xml_escape_put(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        const char *e = entity(*s);
        if (e)
            fputs(e, f);
        else
            fputc(*s, f);
    }
}
