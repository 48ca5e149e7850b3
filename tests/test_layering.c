/*
 * test_layering.c — the engine's modules and headers stay layered (issue 17
 * items 27 and 28): no module calls back into one that calls it, and the
 * readers of plain text (csv.c, names.c) compile without GEOS or PROJ.
 * Reads the sources: run from the repository root, as tests/run.sh does.
 */
#include "harness.h"

/* The output of a shell command (at most cap - 1 bytes); -1 when it fails. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

/* The modules module calls, as tests/modules.py lists them ("a b c"). */
static const char *calls(const char *graph, const char *module, char *line, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", module);
    const char *at = strstr(graph, key);
    line[0] = '\0';
    if (!at) return line;
    at = strstr(at, "-> ");
    if (!at) return line;
    at += 3;
    size_t n = strcspn(at, "\n");
    snprintf(line, cap, " %.*s ", (int)(n < cap - 3 ? n : cap - 3), at);
    return line;
}

TEST(no_module_calls_back_into_one_that_calls_it) /* issue 17 item 27 */
{
    static char graph[16384];
    char line[1024];
    if (access("tests/modules.py", R_OK) != 0 || access("engine/boundaries.c", R_OK) != 0)
        SKIP("run from the repository root");
    graph[0] = '\n';
    if (run("python3 tests/modules.py . 2>&1", graph + 1, sizeof graph - 1) != 0) {
        HARNESS_FAIL("tests/modules.py failed: %s", graph);
        return;
    }
    if (!strstr(graph, "\ncycles: none\n")) HARNESS_FAIL("a cycle of modules:\n%s", graph);
    /* the cycle this issue broke: boundaries -> write -> join -> reconcile
     * -> boundaries, and aliases <-> boundaries */
    EXPECT(strstr(calls(graph, "boundaries", line, sizeof line), " ogrutil ") != NULL);
    EXPECT(strstr(calls(graph, "boundaries", line, sizeof line), " write ") == NULL);
    EXPECT(strstr(calls(graph, "boundaries", line, sizeof line), " aliases ") != NULL);
    EXPECT(strstr(calls(graph, "aliases", line, sizeof line), " boundaries ") == NULL);
    EXPECT(strstr(calls(graph, "reconcile", line, sizeof line), " boundaries ") != NULL);
    EXPECT(strstr(calls(graph, "ogrutil", line, sizeof line), " boundaries ") == NULL);
}

TEST(csv_and_names_compile_without_geos_or_proj) /* issue 17 item 28 */
{
    static char deps[65536];
    if (access("engine/csv.c", R_OK) != 0) SKIP("run from the repository root");
    const char *files[] = {"engine/csv.c", "engine/names.c"};
    for (int i = 0; i < 2; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Iengine $(pkg-config --cflags gdal) -M %s",
                 files[i]);
        if (run(cmd, deps, sizeof deps) != 0) {
            HARNESS_FAIL("%s failed", cmd);
            continue;
        }
        if (strstr(deps, "geos_c.h") || strstr(deps, "proj.h") || strstr(deps, "gdal.h"))
            HARNESS_FAIL("%s includes GEOS, PROJ or GDAL:\n%s", files[i], deps);
        EXPECT(strstr(deps, "df_core.h") != NULL); /* the test sees the headers at all */
    }
    /* and the area that holds the boundaries does include GEOS */
    if (run("${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Iengine $(pkg-config --cflags gdal geos) -M "
            "engine/reconcile.c",
            deps, sizeof deps) != 0)
        HARNESS_FAIL("cc -M engine/reconcile.c failed");
    else
        EXPECT(strstr(deps, "geos_c.h") != NULL);
}

int main(void)
{
    RUN(no_module_calls_back_into_one_that_calls_it);
    RUN(csv_and_names_compile_without_geos_or_proj);
    return harness_done();
}
