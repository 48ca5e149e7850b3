/*
 * install.c — where the data shipped with dispflow (shapes/) is at run time.
 *
 * An installed tree is relocatable: the library and the program look for
 * share/dispflow/shapes beside themselves (LIBDIR/../share, BINDIR/../share),
 * so a tree staged with DESTDIR, or moved, still finds its data. The paths
 * compiled in (DF_INSTALL_SHAPES: PREFIX's; DF_BUILD_SHAPES: the checkout's)
 * come after, the build tree last (issue 15 item 1).
 */
#define _GNU_SOURCE /* dladdr */
#include "df_core.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A shapes folder is usable when it holds the country profiles. */
static int usable(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/profiles", dir);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* share/dispflow/shapes next to the folder of file (a library or a program). */
static int beside(const char *file, char *out, size_t cap)
{
    char dir[PATH_MAX + 32], real[PATH_MAX];
    if (!file || !file[0] || !realpath(file, real)) return 0;
    char *slash = strrchr(real, '/');
    if (!slash) return 0;
    *slash = '\0';
    snprintf(dir, sizeof dir, "%s/../share/dispflow/shapes", real);
    if (!realpath(dir, real) || !usable(real)) return 0;
    snprintf(out, cap, "%s", real);
    return 1;
}

const char *df_shapes_dir(void)
{
    static _Thread_local char found[PATH_MAX];
    const char *env = getenv("DISPFLOW_SHAPES");
    if (env && env[0]) {
        /* told where: that or nothing, never a silent fallback */
        if (!usable(env)) return NULL;
        snprintf(found, sizeof found, "%s", env);
        return found;
    }
    Dl_info info;
    if (dladdr((void *)df_shapes_dir, &info) && beside(info.dli_fname, found, sizeof found)) return found;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (beside(exe, found, sizeof found)) return found;
    }
#ifdef DF_INSTALL_SHAPES
    if (usable(DF_INSTALL_SHAPES)) return DF_INSTALL_SHAPES;
#endif
#ifdef DF_BUILD_SHAPES
    if (usable(DF_BUILD_SHAPES)) return DF_BUILD_SHAPES;
#endif
    return NULL;
}
