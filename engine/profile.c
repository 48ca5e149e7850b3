/*
 * profile.c — country profiles: what dispflow knows of one country, in a
 * data file (shapes/profiles/irq.ini), never in code. A profile gives the
 * admin-0 P-codes it fits, the level labels, an alias table and named
 * origin presets:
 *
 *   [profile]
 *   country = Iraq
 *   codes = IQ, IZ            ; P-code prefixes (admin-0 P-code, FIPS ...)
 *   labels = Governorate, District, Sub-district
 *   aliases = ../aliases_iraq.csv   ; relative to this file
 *   [presets]
 *   corridor = IQG15Q05 Al-Mosul, IQG15Q03 Al-Hamdaniya, ...
 *
 * A layer is given the profile whose code begins every unit's P-code (the
 * longest such code wins) or equals its admin-0 P-code field; a job or the
 * CLI can name one. Adding a country is adding a file.
 */
#include "df_geo.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

typedef struct {
    df__profile *p;
    int oom, bad_line;
    char bad[200];
} loader;

static int on_profile_key(void *user, const char *section, const char *name, const char *value)
{
    loader *l = user;
    df__profile *p = l->p;
    char **slot = NULL;
    if (!strcasecmp(section, "profile")) {
        if (!strcasecmp(name, "country"))
            slot = &p->country;
        else if (!strcasecmp(name, "codes"))
            slot = &p->codes;
        else if (!strcasecmp(name, "labels"))
            slot = &p->labels;
        else if (!strcasecmp(name, "aliases"))
            slot = &p->aliases;
    } else if (!strcasecmp(section, "presets") && p->npresets < DF__PROFILE_PRESETS) {
        p->preset_name[p->npresets] = df__strdup(name);
        p->preset_units[p->npresets] = df__strdup(value);
        if (!p->preset_name[p->npresets] || !p->preset_units[p->npresets]) l->oom = 1;
        p->npresets++;
        return 1;
    }
    if (!slot) {
        if (!l->bad[0]) snprintf(l->bad, sizeof l->bad, "[%s] %s: unknown key", section, name);
        return 1;
    }
    free(*slot);
    if (!(*slot = df__strdup(value))) l->oom = 1;
    return 1;
}

void df__profile_free(df__profile *p)
{
    if (!p) return;
    free(p->path), free(p->name), free(p->country), free(p->codes), free(p->labels), free(p->aliases);
    for (int i = 0; i < p->npresets; i++) free(p->preset_name[i]), free(p->preset_units[i]);
    free(p);
}

/* Read a profile: 0 ok, -1 out of memory, -2 unreadable, else the line
 * (> 0) or -3 (an unknown key, in l->bad) of a format error. */
static int parse_profile(const char *path, df__profile **out, loader *l)
{
    *out = NULL;
    df__profile *p = calloc(1, sizeof *p);
    if (!p) return -1;
    *l = (loader){p, 0, 0, ""};
    p->path = df__strdup(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    p->name = trimmed(base, strcspn(base, "."));
    int rc = p->path && p->name ? ini_parse(path, on_profile_key, l) : 0;
    rc = !p->path || !p->name || l->oom || rc == -2 /* inih: no memory */ ? -1
         : rc < 0                                                         ? -2
         : rc > 0                                                         ? rc
         : l->bad[0]                                                      ? -3
                                                                          : 0;
    if (rc == 0 && p->aliases && p->aliases[0] != '/') { /* relative to the profile */
        size_t n = strlen(path) + strlen(p->aliases) + 2, dir = (size_t)(base - path);
        const char *rel = p->aliases;
        while (!strncmp(rel, "../", 3) && dir > 1) { /* "profiles/../aliases.csv" reads "aliases.csv" */
            size_t up = dir - 1;
            while (up > 0 && path[up - 1] != '/') up--;
            if (up == 0 || !strncmp(path + up, "../", 3)) break;
            dir = up, rel += 3;
        }
        char *a = malloc(n);
        if (a) snprintf(a, n, "%.*s%s", (int)dir, path, rel);
        free(p->aliases);
        p->aliases = a;
        if (!a) rc = -1;
    }
    if (rc != 0) return df__profile_free(p), rc;
    *out = p;
    return 0;
}

df_status df__profile_load(df_ctx *ctx, const char *path, df__profile **out)
{
    loader l;
    int rc = parse_profile(path, out, &l);
    if (rc == -1) return df__error(ctx, DF_ENOMEM, "out of memory");
    if (rc == -2) return df__error(ctx, DF_EIO, "cannot read the country profile %s", path);
    if (rc == -3)
        return df__error(ctx, DF_EFORMAT, "%s: %s (keys: country, codes, labels, aliases; [presets])", path, l.bad);
    if (rc > 0) return df__error(ctx, DF_EFORMAT, "%s:%d: not a [section] or a key = value line", path, rc);
    return DF_OK;
}

/* Item k (0-based) of a comma-separated list, trimmed, into out; 0 when
 * there is no item k. */
int df__list_item(const char *list, int k, char *out, size_t cap)
{
    const char *p = list ? list : "";
    for (int i = 0; *p || i == 0; i++) {
        size_t n = strcspn(p, ",");
        if (i == k) { /* trimmed, without allocating: a label must not vanish when memory is short */
            while (n && (*p == ' ' || *p == '\t')) p++, n--;
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
            snprintf(out, cap, "%.*s", (int)n, p);
            return 1;
        }
        if (!p[n]) break;
        p += n + 1;
    }
    return 0;
}

/* The length of the profile's longest code that begins code (normalised),
 * or 0. */
static size_t code_fit(const df__profile *p, const char *code)
{
    char c[64], want[256];
    size_t best = 0;
    df__pcode_normalize(code, want, sizeof want);
    for (int k = 0; df__list_item(p->codes, k, c, sizeof c); k++) {
        char n[64];
        df__pcode_normalize(c, n, sizeof n);
        size_t len = strlen(n);
        if (len && strncmp(want, n, len) == 0 && len > best) best = len;
    }
    return best;
}

/* How well a profile fits the layer: the length of its code when it
 * begins every P-code, or equals the admin-0 code; 0 when it does not. */
static size_t profile_fit(const df__profile *p, const char *const *pcodes, int n, const char *admin0)
{
    if (admin0 && admin0[0]) {
        char a[64], c[64];
        df__pcode_normalize(admin0, a, sizeof a);
        for (int k = 0; df__list_item(p->codes, k, c, sizeof c); k++) {
            char nc[64];
            df__pcode_normalize(c, nc, sizeof nc);
            if (nc[0] && !strcmp(a, nc)) return strlen(nc) + 100; /* stated: wins over a prefix */
        }
    }
    size_t fit = SIZE_MAX;
    for (int i = 0; i < n && fit; i++) {
        size_t f = code_fit(p, pcodes[i]);
        if (f < fit) fit = f;
    }
    return n > 0 && fit != SIZE_MAX ? fit : 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++) free(list[i]);
    free(list);
}

/* The .ini files of dir, sorted (malloc'd list, NULL-terminated; an empty
 * list when there are none). NULL when memory runs out. */
static char **profile_files(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    char **list = calloc(1, sizeof *list);
    size_t n = 0;
    while (list && d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0 || e->d_name[0] == '.') continue;
        char **grown = df__realloc_array(list, n + 2, sizeof *list);
        size_t cap = strlen(dir) + len + 2;
        if (grown) list = grown, list[n + 1] = NULL;
        if (!grown || !(list[n] = malloc(cap))) {
            free_list(list);
            list = NULL;
            break;
        }
        snprintf(list[n++], cap, "%s/%s", dir, e->d_name);
    }
    if (d) closedir(d);
    if (list) qsort(list, n, sizeof *list, cmp_str);
    return list;
}

df_status df__profile_choose(df_ctx *ctx, const char *dir, const char *choice, const char *const *pcodes, int n,
                             const char *admin0, df__profile **out)
{
    *out = NULL;
    if (choice && !strcasecmp(choice, "none")) return DF_OK;
    if (choice && choice[0]) { /* a name in dir, or a file */
        char path[4096];
        if (strchr(choice, '/') || (strlen(choice) > 4 && !strcmp(choice + strlen(choice) - 4, ".ini")))
            snprintf(path, sizeof path, "%s", choice);
        else
            snprintf(path, sizeof path, "%s/%s.ini", dir ? dir : ".", choice);
        df_status st = df__profile_load(ctx, path, out);
        if (st == DF_EIO) {
            char have[512] = "";
            char **files = profile_files(dir);
            for (size_t i = 0; files && files[i]; i++) {
                const char *b = strrchr(files[i], '/') + 1;
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%.*s", i ? ", " : "", (int)strcspn(b, "."),
                         b);
            }
            free_list(files);
            return df__error(ctx, DF_EINVAL, "no country profile %s (%s); the profiles are: %s", choice, path,
                             have[0] ? have : "none");
        }
        return st;
    }
    char **files = profile_files(dir);
    size_t best = 0;
    df_status st = files ? DF_OK : df__error(ctx, DF_ENOMEM, "out of memory");
    for (size_t i = 0; files && files[i] && st == DF_OK; i++) {
        df__profile *p = NULL;
        if ((st = df__profile_load(ctx, files[i], &p)) != DF_OK) break;
        size_t fit = profile_fit(p, pcodes, n, admin0);
        if (fit > best) {
            df__profile_free(*out);
            *out = p, best = fit;
        } else {
            df__profile_free(p);
        }
    }
    free_list(files);
    if (st != DF_OK) df__profile_free(*out), *out = NULL;
    return st;
}

const df__profile *df__profile_preset_owner(const char *dir, const char *name, df__profile **owned, char *presets,
                                            size_t cap)
{
    char **files = profile_files(dir);
    *owned = NULL;
    presets[0] = 0;
    for (size_t i = 0; files && files[i]; i++) {
        df__profile *p = NULL;
        loader l;
        if (parse_profile(files[i], &p, &l) != 0) continue; /* a broken profile elsewhere is not this error */
        for (int k = 0; k < p->npresets; k++) {
            size_t used = strlen(presets);
            snprintf(presets + used, cap - used, "%s%s (%s)", used ? ", " : "", p->preset_name[k],
                     p->country ? p->country : p->name);
            if (!*owned && !strcasecmp(p->preset_name[k], name)) *owned = p;
        }
        if (*owned != p) df__profile_free(p);
    }
    free_list(files);
    return *owned;
}

const char *df__profile_preset(const df__profile *p, const char *name)
{
    for (int k = 0; p && k < p->npresets; k++)
        if (!strcasecmp(p->preset_name[k], name)) return p->preset_units[k];
    return NULL;
}
