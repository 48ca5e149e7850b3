/*
 * test_install.c — dispflow installed like a library (issue 15 item 1):
 * `make install DESTDIR=<staging> PREFIX=/usr`, then a program built with
 * `pkg-config --cflags --libs dispflow` against the staged tree runs, the
 * shared library exports only the public API, the staged CLI finds its
 * shipped shapes without the source tree, the header compiles as C99, C11
 * -pedantic and C++11, and option structs check their size.
 */
#define _DEFAULT_SOURCE /* realpath */
#include "dispflow.h"
#include "harness.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/dispflow-install-XXXXXX";
static char build[512] = "build"; /* the build folder of this test: BUILD/tests/test_install */
static char stage[600];
static char out[1 << 16];

/* Run a shell command (stdout and stderr into out); its exit code. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int exists(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", stage, rel);
    return access(p, F_OK) == 0;
}

/* The same build flags as the suite's own build, so that make installs what
 * was built instead of rebuilding it with other flags. */
static const char *sanitizer(void)
{
    if (strstr(build, "build-asan")) return "SANITIZER=address";
    if (strstr(build, "build-ubsan")) return "SANITIZER=undefined";
    return "";
}

TEST(make_install_stages_every_file)
{
    int rc = sh("make -s install BUILD=%s %s PREFIX=/usr DESTDIR=%s 2>&1", build, sanitizer(), stage);
    if (rc != 0) printf("  make install: %s\n", out);
    EXPECT_INT(rc, 0);
    EXPECT(exists("usr/include/dispflow.h"));
    EXPECT(exists("usr/lib/libdispflow.a"));
    EXPECT(exists("usr/lib/libdispflow.so.0"));
    EXPECT(exists("usr/lib/libdispflow.so"));
    EXPECT(exists("usr/lib/pkgconfig/dispflow.pc"));
    EXPECT(exists("usr/bin/dispflow"));
    EXPECT(exists("usr/share/man/man1/dispflow.1"));
    EXPECT(exists("usr/share/dispflow/shapes/profiles/irq.ini"));
    EXPECT(exists("usr/share/dispflow/shapes/iraq_adm1_naturalearth.geojson"));
    /* the soname, and the man page made from docs/cli.md */
    EXPECT_INT(sh("readelf -d %s/usr/lib/libdispflow.so.0", stage), 0);
    EXPECT(strstr(out, "Library soname: [libdispflow.so.0]") != NULL);
    EXPECT_INT(sh("head -c 4000 %s/usr/share/man/man1/dispflow.1", stage), 0);
    EXPECT(strstr(out, ".TH \"DISPFLOW\" \"1\"") != NULL);
    EXPECT_INT(
        sh("MANWIDTH=100 man -l %s/usr/share/man/man1/dispflow.1 2>/dev/null | grep -c -e '--records FILE'", stage), 0);
    EXPECT(atoi(out) >= 1);
}

/* Every dynamic symbol the library defines is a DF_API function of the
 * header, and every DF_API function is exported: nothing internal (df__,
 * static helpers, GDAL's) leaks. */
TEST(only_the_public_api_is_exported)
{
    EXPECT_INT(sh("nm -D --defined-only %s/usr/lib/libdispflow.so.0 | awk '{print $3}' | grep -v -x -e _edata -e _end "
                  "-e __bss_start -e _init -e _fini | sort > %s/exported && "
                  "grep -o '^DF_API [^(]*(' include/dispflow.h | sed 's/($//; s/.*[ *]//' | sort > %s/declared && "
                  "diff %s/declared %s/exported && wc -l < %s/exported",
                  stage, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir),
               0);
    printf("  exported and declared: %s", out);
    EXPECT(atoi(out) > 60);
}

/* A program built against the staged tree with pkg-config: it joins the
 * sample to the Natural Earth governorates it finds through df_shapes_dir,
 * exactly as the staged CLI does. */
TEST(a_program_built_with_pkg_config_runs)
{
    char src[700];
    snprintf(src, sizeof src, "%s/prog.c", tmpdir);
    FILE *f = fopen(src, "w");
    if (!f) SKIP("cannot write %s", src);
    fputs("#include <dispflow.h>\n#include <stdio.h>\n#include <string.h>\n"
          "int main(int argc, char **argv)\n{\n"
          "    if (argc < 3 || !DF_VERSION_CHECK()) return 3;\n"
          "    const char *shapes = df_shapes_dir();\n"
          "    char adm1[4096];\n"
          "    snprintf(adm1, sizeof adm1, \"%s/iraq_adm1_naturalearth.geojson\", shapes ? shapes : \"\");\n"
          "    df_ctx *ctx = df_ctx_new();\n"
          "    df_record_opts ro; df_boundary_opts bo; df_join_opts jo;\n"
          "    df_record_opts_init(&ro); df_boundary_opts_init(&bo); df_join_opts_init(&jo);\n"
          "    ro.path = argv[1]; bo.path = adm1; jo.level = 1;\n"
          "    df_boundaries *b = NULL; df_join *j = NULL;\n"
          "    df_status st = df_sample_write(ctx, argv[1], 1);\n"
          "    if (st == DF_OK) st = df_boundaries_load(ctx, &bo, &b);\n"
          "    if (st == DF_OK) st = df_join_run(ctx, b, &ro, &jo, &j);\n"
          "    if (st == DF_OK) st = df_join_write(ctx, j, b, argv[2], NULL, NULL);\n"
          "    printf(\"%d %s %s\\n\", df_version_number(), shapes ? shapes : \"none\", df_status_name(st));\n"
          "    if (st != DF_OK) printf(\"%s\\n\", df_ctx_errmsg(ctx));\n"
          "    df_join_free(j); df_boundaries_free(b); df_ctx_free(ctx);\n"
          "    return st == DF_OK ? 0 : 1;\n}\n",
          f);
    fclose(f);
    int rc = sh("PKG_CONFIG_SYSROOT_DIR=%s PKG_CONFIG_PATH=%s/usr/lib/pkgconfig "
                "cc -std=c11 -Wall -Werror %s -o %s/prog $(PKG_CONFIG_SYSROOT_DIR=%s "
                "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags --libs dispflow) 2>&1",
                stage, stage, src, tmpdir, stage, stage);
    if (rc != 0) printf("  build: %s\n", out);
    EXPECT_INT(rc, 0);
    /* linked to the shared library of the staged tree, not the static one */
    EXPECT_INT(sh("LD_LIBRARY_PATH=%s/usr/lib ldd %s/prog", stage, tmpdir), 0);
    EXPECT(strstr(out, "libdispflow.so.0 => ") != NULL && strstr(out, stage) != NULL);
    char want[PATH_MAX + 200], shapes[PATH_MAX];
    snprintf(want, sizeof want, "%s/usr/share/dispflow/shapes", stage);
    if (!realpath(want, shapes)) shapes[0] = 0;
    /* (under SANITIZER=address the library brings ASan's runtime, not first in the program's list) */
    rc = sh("cd %s && env -u DISPFLOW_SHAPES ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 "
            "LD_LIBRARY_PATH=%s/usr/lib ./prog sample.csv prog.csv",
            tmpdir, stage);
    EXPECT_INT(rc, 0);
    snprintf(want, sizeof want, "%d %s OK\n", DISPFLOW_VERSION_NUMBER, shapes);
    EXPECT_STR(out, want);
    /* the staged CLI: the same shapes, the same figures */
    EXPECT_INT(sh("cd %s && env -u DISPFLOW_SHAPES %s/usr/bin/dispflow version", tmpdir, stage), 0);
    snprintf(want, sizeof want, "shapes: %s\n", shapes);
    EXPECT(strstr(out, want) != NULL);
    EXPECT_INT(sh("cd %s && env -u DISPFLOW_SHAPES %s/usr/bin/dispflow join -q --records sample.csv --boundaries "
                  "%s/iraq_adm1_naturalearth.geojson --level adm1 -o cli.csv && cmp prog.csv cli.csv",
                  tmpdir, stage, shapes),
               0);
    /* DISPFLOW_SHAPES overrides; a wrong one is an error, never a silent fallback */
    EXPECT_INT(sh("DISPFLOW_SHAPES=%s/shapes %s/usr/bin/dispflow version", "/work/nowhere", stage), 0);
    EXPECT(strstr(out, "shapes: not found") != NULL);
    EXPECT_INT(sh("cd %s && DISPFLOW_SHAPES=/work/nowhere %s/usr/bin/dispflow join --records sample.csv "
                  "--boundaries %s/iraq_adm1_naturalearth.geojson -o cli2.csv 2>&1",
                  tmpdir, stage, shapes),
               df_status_exit_code(DF_EIO));
    EXPECT(strstr(out, "DISPFLOW_SHAPES=/work/nowhere has no profiles/") != NULL);
    snprintf(want, sizeof want, "%s/cli2.csv", tmpdir);
    EXPECT(access(want, F_OK) != 0);
}

/* The installed header alone compiles in C99, C11 -pedantic and C++11. */
TEST(header_compiles_as_c99_c11_and_cxx11)
{
    const char *compilers[] = {"cc -x c -std=c99 -pedantic", "cc -x c -std=c11 -pedantic",
                               "g++ -x c++ -std=c++11 -pedantic"};
    for (int i = 0; i < 3; i++) {
        int rc = sh("echo '#include <dispflow.h>\nint main(void) { df_join_opts o; df_join_opts_init(&o); return "
                    "DF_VERSION_CHECK() ? (int)o.size * 0 : 1; }' | %s -Wall -Wextra -Werror -I%s/usr/include - -o "
                    "%s/h%d.o -c 2>&1",
                    compilers[i], stage, tmpdir, i);
        if (rc != 0) printf("  %s: %s\n", compilers[i], out);
        EXPECT_INT(rc, 0);
    }
}

/* Options carry their size: 0 (never initialised) and larger than the
 * library knows are refused; a smaller struct (a program built against an
 * older header) is read up to its size, the rest taking the defaults. */
TEST(option_structs_check_their_size)
{
    df_ctx *ctx = df_ctx_new();
    df_density_opts o;
    df_density_opts_init(&o);
    EXPECT_INT(o.size, sizeof o);
    o.pixel = 100;
    o.radius = 1000;
    EXPECT_INT(df_density_opts_check(ctx, &o), DF_OK);
    o.max_pixels = -1; /* invalid: refused when the struct says it has the field */
    EXPECT_INT(df_density_opts_check(ctx, &o), DF_EINVAL);
    o.size = offsetof(df_density_opts, max_pixels); /* an older program: no max_pixels */
    EXPECT_INT(df_density_opts_check(ctx, &o), DF_OK);
    o.size = 0;
    EXPECT_INT(df_density_opts_check(ctx, &o), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "df_density_opts_init") != NULL);
    o.size = sizeof o + 8;
    EXPECT_INT(df_density_opts_check(ctx, &o), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "newer dispflow.h") != NULL);
    df_record_opts ro;
    df_join_opts jo;
    memset(&ro, 0, sizeof ro);
    df_join_opts_init(&jo);
    df_join *j = NULL;
    EXPECT_INT(df_join_run(ctx, NULL, &ro, &jo, &j), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "df_record_opts: size is 0") != NULL);
    EXPECT(j == NULL);
    EXPECT(df_version_number() == DISPFLOW_VERSION_NUMBER && DF_VERSION_CHECK());
    df_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    char cli[600] = "";
    harness_cli_path(argc, argv, cli, sizeof cli);
    char *slash = strrchr(cli, '/');
    if (slash && !strcmp(slash, "/dispflow")) snprintf(build, sizeof build, "%.*s", (int)(slash - cli), cli);
    if (!mkdtemp(tmpdir)) return 1;
    snprintf(stage, sizeof stage, "%s/stage", tmpdir);
    RUN(make_install_stages_every_file);
    RUN(only_the_public_api_is_exported);
    RUN(a_program_built_with_pkg_config_runs);
    RUN(header_compiles_as_c99_c11_and_cxx11);
    RUN(option_structs_check_their_size);
    harness_remove_dir(tmpdir);
    return harness_done();
}
