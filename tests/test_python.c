/*
 * test_python.c — `import dispflow` under Debian's /usr/bin/python3 (issue 15
 * item 3): runs tests/python/test_dispflow.py once, on the module `make
 * python` built into BUILD/python, and reports each of its cases here, so
 * that tests/run.sh counts them. The cases compare the Python results with
 * the CLI's files and the truth of ../shared/data/synthetic_et_mosul.
 */
#include "dispflow.h"
#include "harness.h"

#include <sys/wait.h>

static char build[512] = "build";
static char out[1 << 20];
static int ran, exit_code;

/* Run the script once; its output stays in out. */
static void run_script(void)
{
    if (ran++) return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PYTHONPATH=%s/python /usr/bin/python3 tests/python/test_dispflow.py %s/dispflow 2>&1",
             build, build);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (exit_code != 0) printf("  test_dispflow.py exited %d:\n%s\n", exit_code, out);
}

/* The outcome of one case of the script: "ok NAME", or its failure printed. */
static void expect_case(const char *name)
{
#ifdef __SANITIZE_ADDRESS__
    /* Python cannot load an ASan library without preloading ASan's runtime */
    SKIP_MARK("the Python module is not tested under ASan");
    return;
#endif
    run_script();
    char ok[200], skip[200], fail[200];
    snprintf(ok, sizeof ok, "ok %s\n", name);
    snprintf(skip, sizeof skip, "skip %s:", name);
    snprintf(fail, sizeof fail, "FAIL %s:", name);
    const char *f = strstr(out, fail), *s = strstr(out, skip);
    if (strstr(out, ok)) return;
    if (s) {
        const char *end = strchr(s, '\n');
        SKIP_MARK("%.*s", end ? (int)(end - s) : (int)strlen(s), s);
    } else if (f) {
        /* the failure line and the traceback after it */
        const char *end = strstr(f + 1, "\nok ");
        HARNESS_FAIL("%.*s", end ? (int)(end - f) : (int)strlen(f), f);
    } else {
        HARNESS_FAIL("no outcome for %s in the script's output:\n%s", name, out);
    }
}

TEST(mosul_truth_equals_cli_csv) { expect_case("mosul_truth_equals_cli_csv"); }
TEST(dataframe_input_equals_file_input) { expect_case("dataframe_input_equals_file_input"); }
TEST(bad_input_raises_the_right_error) { expect_case("bad_input_raises_the_right_error"); }
TEST(semicolon_delimiter_and_options) { expect_case("semicolon_delimiter_and_options"); }
TEST(flows_equal_cli_matrix) { expect_case("flows_equal_cli_matrix"); }
TEST(density_equals_cli_raster) { expect_case("density_equals_cli_raster"); }
TEST(check_decisions) { expect_case("check_decisions"); }
TEST(progress_and_cancel) { expect_case("progress_and_cancel"); }
TEST(gil_released_during_a_join) { expect_case("gil_released_during_a_join"); }
TEST(run_job_errors) { expect_case("run_job_errors"); }

int main(int argc, char **argv)
{
    char cli[600] = "";
    harness_cli_path(argc, argv, cli, sizeof cli);
    char *slash = strrchr(cli, '/');
    if (slash && !strcmp(slash, "/dispflow")) snprintf(build, sizeof build, "%.*s", (int)(slash - cli), cli);
    RUN(mosul_truth_equals_cli_csv);
    RUN(dataframe_input_equals_file_input);
    RUN(bad_input_raises_the_right_error);
    RUN(semicolon_delimiter_and_options);
    RUN(flows_equal_cli_matrix);
    RUN(density_equals_cli_raster);
    RUN(check_decisions);
    RUN(progress_and_cancel);
    RUN(gil_released_during_a_join);
    RUN(run_job_errors);
    return harness_done();
}
