/*
 * test_faults.c — faults (issue 7): allocation failures, a full disk and
 * Ctrl-C/SIGTERM must each end a run with a clean error, leave a previous
 * output exactly as it was and leave no temporary file behind.
 *
 * The allocation and disk tests run the CLI with tests/alloc/failmalloc.c
 * preloaded (BUILD/tests/failmalloc.so; not built in ASan builds, where
 * they are skipped). It fails the Nth allocation made by dispflow's own
 * code (never GDAL's, PROJ's or libc's), or makes writes fail with ENOSPC
 * after a number of bytes. The allocation sweeps run a small `dispflow
 * join` and a `dispflow run` of the embedded sample with a failure at every
 * N up to JOIN_EVERY / RUN_EVERY, then with a stride to the number of
 * allocations the run makes (DF_FAULTS_FULL=1: every N). For each N:
 * the process ends by exit, not by a signal; exit 0 only with outputs
 * byte-identical to a run without faults; any other exit is a documented
 * code with a "dispflow: error:" message and leaves no output and no
 * temporary file. docs/robustness.md has the figures and what was found.
 */
#include "dfint.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define BOUNDARIES "shapes/iraq_adm1_naturalearth.geojson"
/* Each sweep fails every N up to EVERY, then STRIDED more N spread to the
 * last allocation (DF_FAULTS_FULL=1: every N, minutes longer). */
#define JOIN_EVERY   60
#define JOIN_STRIDED 140
#define RUN_EVERY    40
#define RUN_STRIDED  60

static char tmpdir[] = "/tmp/dispflow-faults-XXXXXX";
static char root[1024];                                    /* the repository (the tests run from it) */
static char dispflow[1100] = "build/dispflow", shim[1100]; /* shim "": not available */
static char records[1200], small[1200], job[1200], boundaries[1200];

/* ---- files ------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, k;
    char *s = malloc(cap + 1);
    while (s && (k = fread(s + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *t = realloc(s, 2 * cap + 1);
            if (!t) {
                free(s);
                s = NULL;
                break;
            }
            s = t;
            cap *= 2;
        }
    }
    fclose(f);
    if (s) s[n] = 0;
    if (len) *len = n;
    return s;
}

/* 1 when the file holds exactly text. */
static int same_text(const char *path, const char *text)
{
    char *s = slurp(path, NULL);
    int same = s && !strcmp(s, text);
    free(s);
    return same;
}

/* 1 when both files exist and hold the same bytes. */
static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "name sha256\n" for every file of dir in name order (malloc'd; "" for an
 * empty or absent folder): two folders with equal digests hold equal files. */
static char *dir_digest(const char *dir)
{
    char *names[256];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    size_t cap = (size_t)n * 400 + 1;
    char *out = malloc(cap);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char path[2048], hex[65] = "unreadable";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        df__sha256_file(path, hex);
        snprintf(out + strlen(out), cap - strlen(out), "%s %s\n", names[i], hex);
        free(names[i]);
    }
    return out;
}

/* Entries of dir (but "." and ".."); with tmp_only, only temporary ones
 * (".NAME.tmp-..."). -1 when dir cannot be read. */
static int entries(const char *dir, int tmp_only)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!tmp_only || (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-"))) n++;
    }
    closedir(d);
    return n;
}

static void rm_rf(const char *path)
{
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) printf("  could not remove %s\n", path);
}

/* ---- processes -------------------------------------------------------------- */

/* Start argv with the environment assignments env ("K=V", NULL-terminated,
 * may be NULL); its stdout and stderr into the file log. */
static pid_t start(char *const argv[], char *const env[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    for (int i = 0; env && env[i]; i++) {
        char kv[1400], *eq;
        snprintf(kv, sizeof kv, "%s", env[i]);
        if ((eq = strchr(kv, '='))) {
            *eq = 0;
            setenv(kv, eq + 1, 1);
        }
    }
    execv(argv[0], argv);
    _exit(127);
}

/* Run to the end; the wait status. */
static int run_wait(char *const argv[], char *const env[], const char *log)
{
    int status = -1;
    pid_t pid = start(argv, env, log);
    if (pid > 0) waitpid(pid, &status, 0);
    return status;
}

/* ---- the allocation sweep --------------------------------------------------- */

typedef enum { SWEEP_JOIN, SWEEP_RUN } sweep_kind;

typedef struct {
    sweep_kind kind;
    char ref[1200]; /* the outputs of the run without faults */
    long exits[16]; /* by exit code; [15]: by signal */
    long identical; /* exit 0 with outputs equal to the reference */
    long first[16]; /* the first N of each exit code, and its message */
    char first_msg[16][240];
    int reported; /* failures printed so far */
} sweep;

/* The folder of case n, its log, and its command line. */
static void sweep_paths(const sweep *s, long n, char *dir, char *log)
{
    snprintf(dir, 1200, "%s/%s-%ld", tmpdir, s->kind == SWEEP_JOIN ? "join" : "run", n);
    snprintf(log, 1200, "%s/log-%s-%ld.txt", tmpdir, s->kind == SWEEP_JOIN ? "join" : "run", n);
}

static pid_t sweep_start(const sweep *s, long n, const char *env_extra)
{
    static char dir[1200], log[1200], out[1300], declog[1300], preload[1200], at[64], extra[256];
    sweep_paths(s, n, dir, log);
    mkdir(dir, 0755);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    snprintf(at, sizeof at, "DF_FAIL_ALLOC_AT=%ld", n);
    snprintf(extra, sizeof extra, "%s", env_extra ? env_extra : "DF_FAIL_NOTHING=1");
    char *env[] = {preload, at, extra, NULL};
    if (s->kind == SWEEP_JOIN) {
        snprintf(out, sizeof out, "%s/out.csv", dir);
        snprintf(declog, sizeof declog, "%s/decisions.csv", dir);
        char *argv[] = {dispflow,  "join", "-q", "--records", small,   "--boundaries", boundaries,
                        "--level", "adm1", "-o", out,         "--log", declog,         NULL};
        return start(argv, env, log);
    }
    snprintf(out, sizeof out, "%s/bundle", dir);
    char *argv[] = {dispflow, "run", "-q", job, "--output", out, NULL};
    return start(argv, env, log);
}

/* The manifest of bundle dir/bundle against the reference's, with the
 * output folder's name (which the manifest records) put right: 1 equal,
 * 0 otherwise. */
static int same_manifest(const char *dir, const char *ref)
{
    char a[1400], b[1400], from[1400], to[1400];
    snprintf(a, sizeof a, "%s/bundle/manifest.json", dir);
    snprintf(b, sizeof b, "%s/bundle/manifest.json", ref);
    /* the output as the manifest names it, relative to the job file (issue
     * 13 item 4): only the folder's own name differs, "run-N" for "run-0" */
    snprintf(from, sizeof from, "%s/bundle", strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir);
    snprintf(to, sizeof to, "%s/bundle", strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref);
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    if (!x || !y) return free(x), free(y), 0;
    /* rewrite x with `to` for `from` (to is never longer here: same digits or fewer) */
    char *fixed = malloc(na + 1), *w = fixed;
    for (const char *p = x; *p;) {
        if (!strncmp(p, from, strlen(from))) {
            w += sprintf(w, "%s", to);
            p += strlen(from);
        } else {
            *w++ = *p++;
        }
    }
    *w = 0;
    int r = !strcmp(fixed, y);
    free(fixed);
    free(x);
    free(y);
    return r;
}

/* The bundle of a run in dir against the reference's: 1 every file equal,
 * 0 otherwise. */
static int same_bundle(const char *dir, const char *ref)
{
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/bundle", dir);
    snprintf(b, sizeof b, "%s/bundle", ref);
    if (entries(a, 0) != entries(b, 0)) return 0;
    DIR *d = opendir(b);
    struct dirent *e;
    int same = 1;
    while (d && same && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "manifest.json")) continue;
        char x[1700], y[1700];
        snprintf(x, sizeof x, "%s/%s", a, e->d_name);
        snprintf(y, sizeof y, "%s/%s", b, e->d_name);
        same = same_file(x, y);
    }
    if (d) closedir(d);
    return same ? same_manifest(dir, ref) : 0;
}

/* Check case n once its process ended with status. */
static void sweep_check(sweep *s, long n, int status)
{
    char dir[1200], log[1200], what[2048] = "";
    sweep_paths(s, n, dir, log);
    char *msg = slurp(log, NULL);
    if (WIFSIGNALED(status)) {
        s->exits[15]++;
        snprintf(what, sizeof what, "killed by signal %d", WTERMSIG(status));
    } else {
        int code = WEXITSTATUS(status);
        s->exits[code < 15 ? code : 14]++;
        if (code < 15 && !s->first[code]) {
            s->first[code] = n;
            const char *m = msg ? strstr(msg, "dispflow: ") : NULL;
            snprintf(s->first_msg[code], sizeof s->first_msg[code], "%s", m ? m : msg ? msg : "");
            s->first_msg[code][strcspn(s->first_msg[code], "\n")] = 0;
        }
        if (code == 0) {
            char a[1400], b[1400];
            int same;
            if (s->kind == SWEEP_JOIN) {
                snprintf(a, sizeof a, "%s/out.csv", dir);
                snprintf(b, sizeof b, "%s/out.csv", s->ref);
                same = same_file(a, b);
                snprintf(a, sizeof a, "%s/decisions.csv", dir);
                snprintf(b, sizeof b, "%s/decisions.csv", s->ref);
                same = same && same_file(a, b);
            } else {
                same = same_bundle(dir, s->ref);
            }
            if (same > 0) {
                s->identical++;
            } else {
                snprintf(what, sizeof what, "exit 0 but the outputs differ from a run without faults");
            }
        } else if (code < 2 || code > 10) {
            snprintf(what, sizeof what, "exit %d is not a documented error code", code);
        } else if (!msg || (!strstr(msg, "dispflow: error: ") && !strstr(msg, "dispflow: out of memory"))) {
            snprintf(what, sizeof what, "exit %d without an error message", code);
        } else if (entries(dir, 0) != 0) {
            snprintf(what, sizeof what, "exit %d left %d files (%d temporary) in %s", code, entries(dir, 0),
                     entries(dir, 1), dir);
        }
    }
    if (what[0]) {
        harness_current_failed = 1;
        if (s->reported++ < 25) {
            const char *tail = msg ? msg + (strlen(msg) > 600 ? strlen(msg) - 600 : 0) : "";
            printf("  %s DF_FAIL_ALLOC_AT=%ld: %s\n    %s\n", s->kind == SWEEP_JOIN ? "join" : "run", n, what, tail);
        }
    } else {
        rm_rf(dir);
        remove(log);
    }
    free(msg);
}

/* Run the cases ns[0..count) with up to `workers` processes at a time. */
static void sweep_all(sweep *s, const long *ns, long count)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    pid_t pids[8] = {0};
    long slot_n[8] = {0}, next = 0, done = 0;
    while (done < count) {
        for (int w = 0; w < workers && next < count; w++)
            if (!pids[w]) {
                slot_n[w] = ns[next++];
                pids[w] = sweep_start(s, slot_n[w], NULL);
            }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) break;
        for (int w = 0; w < workers; w++)
            if (pids[w] == pid) {
                pids[w] = 0;
                sweep_check(s, slot_n[w], status);
                done++;
            }
    }
}

/* The number of allocations dispflow's own code makes in case 0 (no fault),
 * whose outputs become the reference; 0 when the shim does not work here. */
static long sweep_reference(sweep *s)
{
    char dir[1200], log[1200], report[1300], env_report[1400];
    snprintf(report, sizeof report, "%s/count-%d.txt", tmpdir, (int)s->kind);
    snprintf(env_report, sizeof env_report, "DF_FAIL_REPORT=%s", report);
    sweep_paths(s, 0, dir, log);
    snprintf(s->ref, sizeof s->ref, "%s", dir);
    setenv("DF_FAIL_ALLOC_COUNT", "1", 1);
    pid_t pid = sweep_start(s, 0, env_report);
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    unsetenv("DF_FAIL_ALLOC_COUNT");
    char *count = slurp(report, NULL);
    long total = count && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? atol(count) : 0;
    if (!total) {
        char *msg = slurp(log, NULL);
        printf("  the reference run failed (status %d): %s\n", status, msg ? msg : "");
        free(msg);
    }
    free(count);
    return total;
}

static void sweep_report(const sweep *s, const char *name, const char *covered)
{
    printf("  %s: %s: %ld exit 0 with identical outputs", name, covered, s->identical);
    for (int c = 1; c < 15; c++)
        if (s->exits[c]) printf(c < 14 ? ", %ld exit %d" : ", %ld exit >= %d", s->exits[c], c);
    if (s->exits[15]) printf(", %ld killed by a signal", s->exits[15]);
    printf("\n");
    for (int c = 2; c < 15; c++)
        if (s->first[c]) printf("    exit %d first at N=%ld: %s\n", c, s->first[c], s->first_msg[c]);
}

static int have_shim(void)
{
    if (shim[0]) return 1;
    SKIP_MARK("%s is absent (not built in ASan builds: the allocator shim cannot go before ASan)",
              "BUILD/tests/failmalloc.so");
    return 0;
}

/* The N to fail in a sweep of total allocations (see JOIN_EVERY); covered
 * says which, for the report. Returns how many, or -1 out of memory. */
static long sweep_ns(long total, long every, long strided, long **ns, char *covered, size_t cap)
{
    const char *full = getenv("DF_FAULTS_FULL");
    long count = 0, stride = 1;
    if (!(*ns = calloc((size_t)total + 1, sizeof **ns))) return -1;
    if (!(full && atoi(full)) && total > every) stride = (total - every + strided - 1) / strided;
    for (long i = 1; i <= total; i += i < every ? 1 : stride) (*ns)[count++] = i;
    if (count > 0 && (*ns)[count - 1] != total) (*ns)[count++] = total;
    if (stride > 1)
        snprintf(covered, cap, "N = 1..%ld, then every %ld to %ld (%ld runs; DF_FAULTS_FULL=1 for every N)", every,
                 stride, total, count);
    else
        snprintf(covered, cap, "N = 1..%ld (every N)", total);
    return count;
}

static void sweep_strided(sweep_kind kind, const char *name, long every, long strided)
{
    if (!have_shim()) return;
    sweep s = {.kind = kind};
    long total = sweep_reference(&s);
    if (!total) SKIP("the shim could not count allocations here");
    long *ns;
    char covered[160];
    long count = sweep_ns(total, every, strided, &ns, covered, sizeof covered);
    if (count < 0) return;
    sweep_all(&s, ns, count);
    free(ns);
    sweep_report(&s, name, covered);
    EXPECT(s.exits[3] > 0); /* the failures were injected */
}

TEST(allocation_failure_along_a_join) { sweep_strided(SWEEP_JOIN, "join", JOIN_EVERY, JOIN_STRIDED); }

TEST(allocation_failure_along_a_run) { sweep_strided(SWEEP_RUN, "run", RUN_EVERY, RUN_STRIDED); }

/* ---- a full disk ------------------------------------------------------------ */

/* Run argv with writes to files under watch failing after budget bytes:
 * it must fail with exit 4 or 7 and a message naming name and the cause;
 * the folder digest_of must still have the digest before (the previous
 * output), and no temporary file may be left in folder. Returns the exit
 * code. */
static int full_disk_case_may_pass(char *const argv[], const char *watch, long budget, const char *name,
                                   const char *folder, const char *digest_of, const char *before, int may_pass);

static int full_disk_case(char *const argv[], const char *watch, long budget, const char *name, const char *folder,
                          const char *digest_of, const char *before)
{
    return full_disk_case_may_pass(argv, watch, budget, name, folder, digest_of, before, 0);
}

/* The same; with may_pass, a budget larger than the run's writes lets it
 * end with exit 0 (0 returned, nothing checked). */
static int full_disk_case_may_pass(char *const argv[], const char *watch, long budget, const char *name,
                                   const char *folder, const char *digest_of, const char *before, int may_pass)
{
    char preload[1200], after_env[64], under[1300], log[1300];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    snprintf(after_env, sizeof after_env, "DF_FAIL_WRITE_AFTER=%ld", budget);
    snprintf(under, sizeof under, "DF_FAIL_WRITE_UNDER=%s", watch);
    snprintf(log, sizeof log, "%s/log-disk.txt", tmpdir);
    char *env[] = {preload, after_env, under, NULL};
    int status = run_wait(argv, env, log);
    char *msg = slurp(log, NULL);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (may_pass && code == 0) return free(msg), 0;
    if (code != 4 && code != 7)
        HARNESS_FAIL("full disk after %ld bytes: exit %d (status %d), want 4 or 7: %s", budget, code, status, msg);
    if (msg && !strstr(msg, name))
        HARNESS_FAIL("full disk after %ld bytes: the message should name %s: %s", budget, name, msg);
    if (msg && !strstr(msg, "No space left on device") && !strstr(msg, "disk is full"))
        HARNESS_FAIL("full disk after %ld bytes: the message should say why: %s", budget, msg);
    char *now = dir_digest(digest_of);
    if (strcmp(now, before) != 0) HARNESS_FAIL("full disk after %ld bytes: the previous output changed", budget);
    if (entries(folder, 1) != 0) HARNESS_FAIL("full disk after %ld bytes: temporary files left in %s", budget, folder);
    free(now);
    free(msg);
    return code;
}

TEST(full_disk_in_a_join_to_gpkg)
{
    if (!have_shim()) return;
    char folder[1300], out[1400], log[1400], ref[1400];
    snprintf(folder, sizeof folder, "%s/disk-join", tmpdir);
    snprintf(out, sizeof out, "%s/out.gpkg", folder);
    snprintf(log, sizeof log, "%s/log-disk-ref.txt", tmpdir);
    mkdir(folder, 0755);
    char *argv[] = {dispflow,   "join",    "-q",   "--records", small, "--boundaries",
                    boundaries, "--level", "adm1", "-o",        out,   NULL};
    /* the previous output, and its size: the budgets are fractions of it */
    EXPECT_INT(run_wait(argv, NULL, log), 0);
    snprintf(ref, sizeof ref, "%s", out);
    struct stat sb;
    long size = stat(ref, &sb) == 0 ? (long)sb.st_size : 0;
    EXPECT(size > 0);
    char *before = dir_digest(folder);
    const long budgets[] = {0, 1, 4096, size / 3, size / 2, size - 1};
    for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++)
        full_disk_case(argv, folder, budgets[i], "out.gpkg", folder, folder, before);
    printf("  join -o out.gpkg (%ld bytes): writes fail after 0, 1, 4096, 1/3, 1/2 and all but one byte of it\n", size);
    free(before);
}

TEST(full_disk_in_a_run_with_a_previous_bundle)
{
    if (!have_shim()) return;
    char folder[1300], bundle[1400], log[1400];
    snprintf(folder, sizeof folder, "%s/disk-run", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/bundle", folder);
    snprintf(log, sizeof log, "%s/log-disk-ref.txt", tmpdir);
    mkdir(folder, 0755);
    char *argv[] = {dispflow, "run", "-q", job, "--output", bundle, NULL};
    EXPECT_INT(run_wait(argv, NULL, log), 0);
    long size = 0;
    DIR *d = opendir(bundle);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[2000];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", bundle, e->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) size += (long)sb.st_size;
    }
    if (d) closedir(d);
    char *before = dir_digest(bundle);
    EXPECT(strlen(before) > 0);
    const long budgets[] = {0, 1000, size / 8, size / 4, size / 2, size * 3 / 4, size - 1};
    for (size_t i = 0; i < sizeof budgets / sizeof *budgets; i++)
        full_disk_case(argv, folder, budgets[i], folder, folder, bundle, before);
    printf("  run with a previous bundle (%ld bytes in all): writes fail after 0, 1000, 1/8, 1/4, 1/2, 3/4 and all "
           "but one byte of it\n",
           size);
    free(before);
}

/* issue 12 item 2: the records layer's rows and its index are written on a
 * thread of their own beside the other products (run.c, "beside"). A full
 * disk met on that thread must end the run as one met anywhere else: exit
 * 4 or 7, its message (naming layers.gpkg and the cause) the run's, the
 * previous bundle as it was, nothing left. No flows, density or maps: the
 * main thread writes nothing while the records layer's rows and styles go
 * in (it waits for them), so the budgets that fall in those bytes fail on
 * the thread alone. */
TEST(full_disk_on_the_records_layer_thread_issue12_item2)
{
    if (!have_shim()) return;
    char folder[1300], bundle[1400], log[1400], thread_job[1300], text[2000];
    snprintf(folder, sizeof folder, "%s/disk-beside", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/bundle", folder);
    snprintf(log, sizeof log, "%s/log-disk-beside.txt", tmpdir);
    snprintf(thread_job, sizeof thread_job, "%s/beside.ini", tmpdir);
    mkdir(folder, 0755);
    FILE *f = fopen(thread_job, "w");
    if (f) {
        fprintf(f,
                "[job]\ntitle = Faults\noutput = bundle\n[records]\npath = records.csv\n[boundaries]\nadm1 = %s\n"
                "[flows]\nenabled = no\n[density]\nenabled = no\n[report]\nmaps = no\n",
                boundaries);
        fclose(f);
    }
    char *argv[] = {dispflow, "run", "-q", thread_job, "--output", bundle, NULL};
    EXPECT_INT(run_wait(argv, NULL, log), 0);
    snprintf(text, sizeof text, "%s/layers.gpkg", bundle);
    struct stat sb;
    long size = 0;
    DIR *d = opendir(bundle);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[2000];
        snprintf(p, sizeof p, "%s/%s", bundle, e->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) size += (long)sb.st_size;
    }
    if (d) closedir(d);
    char *before = dir_digest(bundle);
    EXPECT(size > 0);
    /* budgets from 0 in steps of 1/32 of the bundle until one lets the run
     * through (the run writes more than the bundle: journals, pages written
     * twice) */
    int on_thread = 0, cases = 0;
    for (int i = 0; i < 96; i++, cases++) {
        if (full_disk_case_may_pass(argv, folder, size * i / 32, folder, folder, bundle, before, 1) == 0) break;
        snprintf(text, sizeof text, "%s/log-disk.txt", tmpdir);
        char *msg = slurp(text, NULL);
        /* fill_points' and rtree.c's own words: the error of the thread */
        on_thread += msg && (strstr(msg, "the records layer") || strstr(msg, "the spatial index"));
        free(msg);
    }
    printf("  run without flows, density or maps (%ld bytes in all): writes fail after 0, 1/32, 2/32 ... of it: "
           "%d runs failed, %d of them on the records layer's thread\n",
           size, cases, on_thread);
    EXPECT(on_thread > 0);
    free(before);
}

/* ---- Ctrl-C and SIGTERM ----------------------------------------------------- */

/* Start a run with --json-progress over a previous bundle; when the
 * progress reaches the stage `at`, send sig. The run must end with exit
 * 11, say so, and leave the previous bundle (SHA-256 of every file) and no
 * temporary folder. */
static void interrupt_run(int sig, const char *at)
{
    char folder[1300], bundle[1400], log[1400];
    snprintf(folder, sizeof folder, "%s/signal-%d", tmpdir, sig);
    snprintf(bundle, sizeof bundle, "%s/bundle", folder);
    snprintf(log, sizeof log, "%s/log-signal.txt", tmpdir);
    mkdir(folder, 0755);
    char *ref_argv[] = {dispflow, "run", "-q", job, "--output", bundle, NULL};
    EXPECT_INT(run_wait(ref_argv, NULL, log), 0);
    char *before = dir_digest(bundle);

    int fds[2];
    if (pipe(fds) != 0) {
        HARNESS_FAIL("pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = {dispflow, "run", "--json-progress", job, "--output", bundle, NULL};
        execv(dispflow, argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *err = fdopen(fds[0], "r");
    char line[1024], want[128], text[8192] = "";
    int sent = 0;
    snprintf(want, sizeof want, "{\"stage\": \"%s", at);
    while (err && fgets(line, sizeof line, err)) {
        if (strlen(text) + strlen(line) < sizeof text) strcat(text, line);
        if (!sent && !strncmp(line, want, strlen(want))) {
            kill(pid, sig); /* the run is mid-stage: stages after this one still report progress */
            sent = 1;
        }
    }
    if (err) fclose(err);
    int status = -1;
    waitpid(pid, &status, 0);
    EXPECT(sent);
    EXPECT(WIFEXITED(status));
    EXPECT_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 11);
    if (!strstr(text, "dispflow: interrupted; the previous bundle is untouched"))
        HARNESS_FAIL("no interruption message in: %s", text);
    char *after = dir_digest(bundle);
    EXPECT_STR(after, before);
    EXPECT_INT(entries(folder, 1), 0);
    EXPECT_INT(entries(folder, 0), 1); /* the bundle only */
    free(before);
    free(after);
}

TEST(sigint_during_a_run_keeps_the_previous_bundle) { interrupt_run(SIGINT, "density"); }

TEST(sigterm_during_a_run_keeps_the_previous_bundle) { interrupt_run(SIGTERM, "maps"); }

/* ---- data loss in run, signals in every verb (issue 17) --------------------- */

/* A job in folder/name: output and records as given (relative to the
 * folder), the shipped governorates, no density (quick). */
static void write_job(const char *folder, const char *name, const char *output, const char *recs, char *path,
                      size_t cap)
{
    snprintf(path, cap, "%s/%s", folder, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "[job]\ntitle = Faults\noutput = %s\n[records]\npath = %s\n[boundaries]\nadm1 = %s\n", output, recs,
            boundaries);
    fclose(f);
}

/* Run `dispflow run -q JOB`; the exit code (-1 by a signal), the output in
 * log_text. */
static int run_job(const char *job_path, char *log_text, size_t cap)
{
    char log[1300];
    snprintf(log, sizeof log, "%s/log-job.txt", tmpdir);
    char *argv[] = {dispflow, "run", "-q", (char *)job_path, NULL};
    int status = run_wait(argv, NULL, log);
    char *text = slurp(log, NULL);
    snprintf(log_text, cap, "%s", text ? text : "");
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* issue 17 items 4 and 6: a run refuses to replace a bundle that holds an
 * input of the job or a file its manifest does not list (both kept, the
 * bundle as it was); a replaced bundle keeps its folder's mode */
TEST(issue17_item4_run_keeps_inputs_and_unlisted_files_in_the_output)
{
    char folder[1300], bundle[1400], job_ok[1400], job_in[1400], path[1500], text[8192], cmd[3000];
    snprintf(folder, sizeof folder, "%s/item4", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/bundle", folder);
    mkdir(folder, 0755);
    write_job(folder, "job.ini", "bundle", records, job_ok, sizeof job_ok);
    write_job(folder, "inside.ini", "bundle", "bundle/records.csv", job_in, sizeof job_in);
    EXPECT_INT(run_job(job_ok, text, sizeof text), 0);
    /* the records kept inside the bundle, and read from there */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/records.csv'", records, bundle);
    EXPECT_INT(system(cmd), 0);
    char *before = dir_digest(bundle);
    EXPECT_INT(run_job(job_in, text, sizeof text), df_status_exit_code(DF_EINVAL));
    if (!strstr(text, "bundle/records.csv lies inside the output folder")) HARNESS_FAIL("message: %s", text);
    char *after = dir_digest(bundle);
    EXPECT_STR(after, before);
    free(after);
    /* the same run with the records elsewhere: records.csv is no file of the bundle's */
    EXPECT_INT(run_job(job_ok, text, sizeof text), df_status_exit_code(DF_EIO));
    if (!strstr(text, "bundle/records.csv is not in the previous bundle's manifest (1 such file)"))
        HARNESS_FAIL("message: %s", text);
    after = dir_digest(bundle);
    EXPECT_STR(after, before);
    free(after);
    free(before);
    EXPECT_INT(entries(folder, 1), 0);
    /* without it the bundle is replaced, and keeps its mode (0700) */
    snprintf(path, sizeof path, "%s/records.csv", bundle);
    EXPECT_INT(unlink(path), 0);
    EXPECT_INT(chmod(bundle, 0700), 0);
    EXPECT_INT(run_job(job_ok, text, sizeof text), 0);
    struct stat sb;
    EXPECT(stat(bundle, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    EXPECT_INT(entries(folder, 0), 3); /* job.ini, inside.ini, bundle: no lock file, no temporary folder */
}

/* issue 17 item 5: two runs on one output do not race (a run holding the
 * lock makes the second fail at once), and a folder made at the output
 * during a run is checked again at the swap: kept, not swapped and deleted */
TEST(issue17_item5_lock_and_a_folder_made_during_the_run)
{
    char folder[1300], bundle[1400], job5[1400], lock[1400], text[8192];
    snprintf(folder, sizeof folder, "%s/item5", tmpdir);
    snprintf(bundle, sizeof bundle, "%s/bundle", folder);
    snprintf(lock, sizeof lock, "%s/.bundle.lock", folder);
    mkdir(folder, 0755);
    write_job(folder, "job.ini", "bundle", records, job5, sizeof job5);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    EXPECT(fd >= 0 && flock(fd, LOCK_EX) == 0);
    EXPECT_INT(run_job(job5, text, sizeof text), df_status_exit_code(DF_EIO));
    if (!strstr(text, "another dispflow run is writing")) HARNESS_FAIL("message: %s", text);
    EXPECT_INT(access(bundle, F_OK), -1);
    close(fd);
    unlink(lock);
    /* a folder of someone's made at the output while the run works */
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = {dispflow, "run", "--json-progress", job5, NULL};
        execv(dispflow, argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *err = fdopen(fds[0], "r");
    char line[1024], theirs[1500];
    int made = 0;
    text[0] = 0;
    snprintf(theirs, sizeof theirs, "%s/theirs.txt", bundle);
    while (err && fgets(line, sizeof line, err)) {
        if (strlen(text) + strlen(line) < sizeof text) strcat(text, line);
        if (!made && strstr(line, "\"stage\": \"tables")) {
            mkdir(bundle, 0755);
            FILE *f = fopen(theirs, "w");
            if (f) fputs("mine\n", f), fclose(f);
            made = 1;
        }
    }
    if (err) fclose(err);
    int status = -1;
    waitpid(pid, &status, 0);
    EXPECT(made);
    EXPECT_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, df_status_exit_code(DF_EIO));
    if (!strstr(text, "bundle exists and is not a dispflow bundle")) HARNESS_FAIL("message: %s", text);
    char *kept = slurp(theirs, NULL);
    EXPECT_STR(kept ? kept : "(gone)", "mine\n");
    free(kept);
    EXPECT_INT(entries(bundle, 0), 1);
    EXPECT_INT(entries(folder, 0), 2); /* job.ini and their folder: no lock, no temporary folder */
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Wait for pid at most seconds; then kill it and fail: a verb that opens a
 * FIFO twice (a second read of the records) would wait for ever. */
static void wait_bounded(pid_t pid, int *status, int seconds)
{
    for (int ms = 0; ms < seconds * 1000; ms += 20) {
        if (waitpid(pid, status, WNOHANG) == pid) return;
        sleep_ms(20);
    }
    HARNESS_FAIL("still running after %d s: killed (does it read the records twice?)", seconds);
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
}

/* Start argv, which reads its records from the FIFO fifo; feed it the
 * first rows of `records`, send sig, feed it the rest. The wait status. */
static int interrupt_reading(char *const argv[], const char *fifo, int sig, const char *log)
{
    size_t len;
    char *data = slurp(records, &len);
    pid_t pid = start(argv, NULL, log);
    int fd = -1, status = -1;
    for (int tries = 0; fd < 0 && tries < 1000; tries++) { /* until the verb opens its end (10 s at most) */
        if ((fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0) sleep_ms(10);
        if (fd < 0 && waitpid(pid, &status, WNOHANG) == pid) break;
    }
    if (fd >= 0 && data) {
        fcntl(fd, F_SETFL, 0);
        size_t half = 0;
        for (int lines = 0; half < len && lines < 1000; half++) lines += data[half] == '\n';
        EXPECT(write(fd, data, half) == (ssize_t)half);
        sleep_ms(100);
        kill(pid, sig); /* mid-read: the rows after this are still to come */
        sleep_ms(100);
        if (write(fd, data + half, len - half) < 0) printf("  the verb stopped reading early: %s\n", strerror(errno));
        close(fd);
        wait_bounded(pid, &status, 60);
    } else if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    free(data);
    return status;
}

/* issue 17 item 7: join, flows and density stopped by Ctrl-C or SIGTERM
 * exit 11 and say so, and leave their previous outputs as they were and no
 * temporary file (docs/cli.md) */
TEST(issue17_item7_signals_stop_join_flows_and_density)
{
    char folder[1300], fifo[1400], outp[1400], second[1400], log[1400];
    snprintf(folder, sizeof folder, "%s/item7", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/records.csv", folder);
    snprintf(log, sizeof log, "%s/log-item7.txt", tmpdir);
    mkdir(folder, 0755);
    EXPECT_INT(mkfifo(fifo, 0644), 0);
    static const char *const previous = "previous output\n";
    for (int verb = 0; verb < 3; verb++) {
        int sig = verb == 1 ? SIGTERM : SIGINT;
        static const char *const ext[] = {"geojson", "geojson", "tif"};
        snprintf(outp, sizeof outp, "%s/out%d.%s", folder, verb, ext[verb]);
        snprintf(second, sizeof second, "%s/second%d.csv", folder, verb);
        FILE *f = fopen(outp, "w");
        if (f) fputs(previous, f), fclose(f);
        f = fopen(second, "w");
        if (f) fputs(previous, f), fclose(f);
        char *join_argv[] = {dispflow, "join",  "--records", fifo, "--boundaries", boundaries, "-o",
                             outp,     "--log", second,      NULL};
        char *flows_argv[] = {dispflow, "flows",        "--records", fifo, "--boundaries", boundaries, "--origin-level",
                              "adm1",   "--dest-level", "adm1",      "-o", outp,           "--matrix", second,
                              NULL};
        char *density_argv[] = {dispflow,   "density", "--records", fifo, "--pixel", "5000",
                                "--radius", "10000",   "-o",        outp, NULL};
        char *const *argv = verb == 0 ? join_argv : verb == 1 ? flows_argv : density_argv;
        int status = interrupt_reading(argv, fifo, sig, log);
        char *text = slurp(log, NULL);
        EXPECT_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 11);
        if (!text || !strstr(text, sig == SIGINT ? "interrupted by Ctrl-C (SIGINT)" : "interrupted by SIGTERM"))
            HARNESS_FAIL("%s: no interruption message in: %s", argv[1], text ? text : "");
        free(text);
        EXPECT(same_text(outp, previous));
        EXPECT(same_text(second, previous));
        EXPECT_INT(entries(folder, 1), 0);
    }
}

/* ---- the library's own handlers (issue 17 items 25, 26) --------------------- */

/* A log per context: the lines it received, "level:message\n" each. */
typedef struct {
    char text[4096];
} ctx_log;

static void keep_log(df_log_level level, const char *msg, void *user)
{
    ctx_log *l = user;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%d:%s\n", (int)level, msg);
}

/* A layer whose ring is not closed: GDAL reads it with a warning (CE_Warning,
 * "Non closed ring detected"), which the handler of the calling context
 * logs; GEOS then refuses the ring, which does not matter here. */
static void unclosed_ring_layer(char *path, size_t cap)
{
    snprintf(path, cap, "%s/unclosed.geojson", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":"
          "\"IQG01\",\"ADM1_EN\":\"Alpha\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[44,33],[45,33],"
          "[45,34],[44,34]]]}}]}",
          f);
    fclose(f);
}

/* Load path with ctx, stderr sent to a file meanwhile: what was printed
 * (the library must print nothing). */
static void load_quietly(df_ctx *ctx, const char *path, char *printed, size_t cap)
{
    char err[1300];
    snprintf(err, sizeof err, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2), fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = path;
    df_boundaries_load(ctx, &o, &b); /* GEOS refuses the ring: GDAL's warning is what counts */
    df_boundaries_free(b);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(err, "r");
    size_t n = f ? fread(printed, 1, cap - 1, f) : 0;
    printed[n] = 0;
    if (f) fclose(f);
}

/* issue 17 item 25: two contexts freed in creation order (not LIFO): the
 * second still gets its own GDAL messages, and nothing reads the first after
 * its free (valgrind: no invalid read in gdal_handler). */
TEST(gdal_handler_two_contexts_freed_in_creation_order)
{
    char path[1300], printed[1024];
    ctx_log la = {""}, lb = {""};
    unclosed_ring_layer(path, sizeof path);
    df_ctx *a = df_ctx_new(), *b = df_ctx_new();
    df_ctx_set_log(a, keep_log, &la);
    df_ctx_set_log(b, keep_log, &lb);
    df_ctx_free(a);
    load_quietly(b, path, printed, sizeof printed);
    if (!strstr(lb.text, "GDAL: Non closed ring detected")) HARNESS_FAIL("b's log lacks GDAL's warning: %s", lb.text);
    EXPECT_STR(la.text, "");
    EXPECT_STR(printed, "");
    df_ctx_free(b);
    /* and a context made after both works as the first did */
    df_ctx *c = df_ctx_new();
    ctx_log lc = {""};
    df_ctx_set_log(c, keep_log, &lc);
    load_quietly(c, path, printed, sizeof printed);
    EXPECT(strstr(lc.text, "GDAL: Non closed ring detected") != NULL);
    EXPECT_STR(printed, "");
    df_ctx_free(c);
}

typedef struct {
    df_ctx *ctx;
    const char *path;
    char printed[1024];
} thread_job;

static void *load_in_thread(void *user)
{
    thread_job *t = user;
    load_quietly(t->ctx, t->path, t->printed, sizeof t->printed);
    return NULL;
}

/* issue 17 item 25: a context made on one thread and used on another gets
 * GDAL's messages there (GDAL's handler stack is per thread), and GDAL
 * prints nothing of its own. */
TEST(gdal_handler_context_used_from_a_second_thread)
{
    char path[1300];
    ctx_log l = {""};
    unclosed_ring_layer(path, sizeof path);
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, &l);
    thread_job t = {ctx, path, ""};
    pthread_t tid;
    EXPECT_INT(pthread_create(&tid, NULL, load_in_thread, &t), 0);
    pthread_join(tid, NULL);
    if (!strstr(l.text, "GDAL: Non closed ring detected")) HARNESS_FAIL("the log lacks GDAL's warning: %s", l.text);
    EXPECT_STR(t.printed, "");
    df_ctx_free(ctx);
}

/* issue 17 item 26: what GEOS says on the boundaries' private handle (the
 * lazy preparation of a level uses it) reaches the log of the next call
 * with a context, an error as a warning, once. */
TEST(geos_messages_of_the_boundaries_go_to_the_log)
{
    ctx_log l = {""};
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, &l);
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = boundaries;
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_OK);
    if (!b) return;
    l.text[0] = 0;
    /* a parse error on the private handle, as a failed union would raise one */
    GEOSGeometry *g = GEOSGeomFromWKT_r(df__boundaries_geos(b), "POLYGON ((0 0, 1 1");
    EXPECT(g == NULL);
    EXPECT_INT(df_boundaries_prepare(ctx, b, 1), DF_OK);
    char want[64];
    snprintf(want, sizeof want, "%d:GEOS (boundaries): ParseException", (int)DF_LOG_WARN);
    if (!strstr(l.text, want)) HARNESS_FAIL("the log lacks GEOS's message: \"%s\"", l.text);
    l.text[0] = 0;
    EXPECT_INT(df_boundaries_prepare(ctx, b, 1), DF_OK);
    EXPECT_STR(l.text, ""); /* said once */
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- set-up ----------------------------------------------------------------- */

static int setup(const char *argv0)
{
    const char *slash = strrchr(argv0, '/'); /* BUILD/tests/test_faults */
    if (!getcwd(root, sizeof root) || !mkdtemp(tmpdir)) return -1;
    if (slash && slash - argv0 > 6 && !strncmp(slash - 6, "/tests", 6)) {
        char bin[1024] = ""; /* BUILD/tests, absolute */
        size_t len = (size_t)(slash - argv0), at = 0;
        if (argv0[0] != '/') at = (size_t)snprintf(bin, sizeof bin, "%s/", root);
        if (at + len >= sizeof bin) return -1;
        memcpy(bin + at, argv0, len);
        bin[at + len] = 0;
        snprintf(shim, sizeof shim, "%s/failmalloc.so", bin);
        bin[at + len - 6] = 0; /* BUILD */
        snprintf(dispflow, sizeof dispflow, "%s/dispflow", bin);
    }
    if (access(shim, R_OK) != 0) shim[0] = 0;
    snprintf(boundaries, sizeof boundaries, "%s/" BOUNDARIES, root);
    snprintf(records, sizeof records, "%s/records.csv", tmpdir);
    snprintf(small, sizeof small, "%s/small.csv", tmpdir);
    snprintf(job, sizeof job, "%s/job.ini", tmpdir);
    char log[1300], cmd[4000];
    snprintf(log, sizeof log, "%s/log-sample.txt", tmpdir);
    char *argv[] = {dispflow, "sample", "-o", records, NULL};
    if (run_wait(argv, NULL, log) != 0) return -1;
    /* run a copy: a rebuild of BUILD/dispflow while the test runs must not
     * make an exec fail */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/dispflow'", dispflow, tmpdir);
    if (system(cmd) != 0) return -1;
    snprintf(dispflow, sizeof dispflow, "%s/dispflow", tmpdir);
    /* the join: the first 300 rows (the allocations are those of the whole
     * run: boundaries, aliases, the reader; rows reuse their buffers) */
    snprintf(cmd, sizeof cmd, "head -n 301 '%s' > '%s'", records, small);
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(job, "w");
    if (!f) return -1;
    fprintf(f,
            "[job]\ntitle = Faults\noutput = bundle\n[records]\npath = records.csv\n[boundaries]\nadm1 = %s\n"
            "[density]\nradius = 10000\npixel = 5000\n",
            boundaries);
    return fclose(f);
}

/* `test_faults WORD` runs only the tests whose name holds WORD. */
static const char *only;
#define RUN_IF(name)                                                                                                   \
    do {                                                                                                               \
        if (!only || strstr(#name, only)) RUN(name);                                                                   \
    } while (0)

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    signal(SIGPIPE, SIG_IGN); /* a verb that stops reading its FIFO early: an error to report, not our end */
    if (setup(argv[0]) != 0) {
        printf("set-up failed in %s\n", tmpdir);
        return 1;
    }
    RUN_IF(allocation_failure_along_a_join);
    RUN_IF(allocation_failure_along_a_run);
    RUN_IF(full_disk_in_a_join_to_gpkg);
    RUN_IF(full_disk_in_a_run_with_a_previous_bundle);
    RUN_IF(full_disk_on_the_records_layer_thread_issue12_item2);
    RUN_IF(sigint_during_a_run_keeps_the_previous_bundle);
    RUN_IF(sigterm_during_a_run_keeps_the_previous_bundle);
    RUN_IF(issue17_item4_run_keeps_inputs_and_unlisted_files_in_the_output);
    RUN_IF(issue17_item5_lock_and_a_folder_made_during_the_run);
    RUN_IF(issue17_item7_signals_stop_join_flows_and_density);
    RUN_IF(gdal_handler_two_contexts_freed_in_creation_order);
    RUN_IF(gdal_handler_context_used_from_a_second_thread);
    RUN_IF(geos_messages_of_the_boundaries_go_to_the_log);
    if (harness_failed && getenv("DF_FAULTS_KEEP"))
        printf("kept %s\n", tmpdir);
    else
        rm_rf(tmpdir);
    return harness_done();
}
