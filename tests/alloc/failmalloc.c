/*
 * failmalloc.c — an LD_PRELOAD shim for fault injection (issue 7): makes
 * dispflow's own allocations fail on the Nth call, or its writes fail with
 * ENOSPC after a number of bytes, so that tests can check that every path
 * ends in a clean error. Built by the Makefile into BUILD/tests/failmalloc.so
 * (not in ASan builds: ASan's allocator must come first); used by
 * tests/test_alloc.c and tests/test_faults.c.
 *
 * Only calls made from the main executable count: the engine is linked
 * statically into dispflow, so an allocation is "ours" when the return
 * address of malloc lies in a loaded executable segment of the main
 * program. Allocations inside GDAL, PROJ, GEOS, json-c, cairo or libc are
 * never failed: those libraries are not ours to make OOM-safe.
 *
 * Environment:
 *   DF_FAIL_ALLOC_AT=N      the Nth counted malloc/calloc/realloc returns NULL
 *                           with errno ENOMEM (once; every later call succeeds)
 *   DF_FAIL_ALLOC_COUNT=1   count only; at exit write the number of counted
 *                           calls to DF_FAIL_REPORT (a file) or stderr
 *   DF_FAIL_ALLOC_TRACE=1   print the failing call's return address and its
 *                           offset in the executable (for addr2line -e)
 *   DF_FAIL_WRITE_AFTER=B   after B bytes written to files under
 *                           DF_FAIL_WRITE_UNDER (a folder; default: every
 *                           regular file), write/pwrite/writev fail
 *                           with ENOSPC, from every caller (GDAL's writes too);
 *                           streams opened with fopen go through the same
 *                           budget (fopencookie, below)
 *
 * The real functions are glibc's __libc_malloc, __libc_calloc and
 * __libc_realloc, exported for exactly this use: no dlsym, so no recursion
 * through dlsym's own calloc. free is not replaced. write, pwrite, writev
 * and fopen are found with dlsym(RTLD_NEXT), which may allocate through the
 * replaced calloc: until the constructor is done (ready), no call counts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

/* ---- which code is ours -------------------------------------------------- */

#define MAX_SEGMENTS 8
static uintptr_t seg_lo[MAX_SEGMENTS], seg_hi[MAX_SEGMENTS], exe_base;
static int nseg;

static int find_exe(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    /* the first object is the main program */
    exe_base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && nseg < MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        seg_lo[nseg] = info->dlpi_addr + ph->p_vaddr;
        seg_hi[nseg] = seg_lo[nseg] + ph->p_memsz;
        nseg++;
    }
    return 1; /* stop after the first */
}

static int ours(const void *ret)
{
    uintptr_t a = (uintptr_t)ret;
    for (int i = 0; i < nseg; i++)
        if (a >= seg_lo[i] && a < seg_hi[i]) return 1;
    return 0;
}

/* ---- allocation failures ------------------------------------------------- */

static long fail_at; /* 0: never */
static int counting, trace;
static long calls;         /* counted calls so far */
static volatile int ready; /* set once the environment has been read */

/* 1 when this counted call must fail. */
static int should_fail(const void *ret)
{
    if (!ready || !ours(ret)) return 0;
    long n = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    if (fail_at <= 0 || n != fail_at) return 0;
    if (trace) {
        char msg[160];
        int len = snprintf(msg, sizeof msg, "failmalloc: failing call %ld from %p (executable offset 0x%lx)\n", n, ret,
                           (unsigned long)((uintptr_t)ret - exe_base));
        if (len > 0) (void)!write(2, msg, (size_t)len);
    }
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t size)
{
    if (should_fail(__builtin_return_address(0))) return NULL;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (should_fail(__builtin_return_address(0))) return NULL;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (should_fail(__builtin_return_address(0))) return NULL;
    return __libc_realloc(p, size);
}

/* ---- write failures ------------------------------------------------------ */

static long long write_budget = -1; /* bytes left; -1: no limit */
static char under[PATH_MAX];        /* only files under this folder */
static size_t under_len;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);

/* Does a write of this many bytes to fd fall under the budget's eye, and
 * if so may it go ahead? Sets errno ENOSPC and returns 0 when not. */
static int write_allowed(int fd, size_t n)
{
    if (write_budget < 0 || fd <= 2) return 1;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return 1;
    if (under_len) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k < 0) return 1;
        target[k] = 0;
        if (strncmp(target, under, under_len) != 0 || (target[under_len] != '/' && target[under_len] != 0)) return 1;
    }
    long long left = __atomic_load_n(&write_budget, __ATOMIC_RELAXED);
    if ((long long)n > left) {
        __atomic_store_n(&write_budget, 0, __ATOMIC_RELAXED); /* the disk is full from now on */
        errno = ENOSPC;
        return 0;
    }
    __atomic_sub_fetch(&write_budget, (long long)n, __ATOMIC_RELAXED);
    return 1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!write_allowed(fd, n)) return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!write_allowed(fd, n)) return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (!write_allowed(fd, n)) return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    size_t n = 0;
    for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
    if (!write_allowed(fd, n)) return -1;
    return real_writev(fd, iov, cnt);
}

/* glibc's stdio writes through its internal write, which the shim does not
 * see. So a stream opened for writing (by dispflow, cairo, GDAL's VSI) on a
 * file the budget watches is made with fopencookie over a plain file
 * descriptor, and its bytes come to the budgeted write above: a full
 * buffer flushed into a full disk fails as it would for real (the stream's
 * error flag set, fclose returning EOF, errno ENOSPC). */
typedef struct {
    int fd;
} cookie;

static ssize_t cookie_read(void *c, char *buf, size_t n) { return read(((cookie *)c)->fd, buf, n); }

static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
    ssize_t k = write(((cookie *)c)->fd, buf, n);
    return k < 0 ? 0 : k; /* 0: glibc marks the stream failed */
}

static int cookie_seek(void *c, off64_t *off, int whence)
{
    off64_t r = lseek64(((cookie *)c)->fd, *off, whence);
    if (r < 0) return -1;
    *off = r;
    return 0;
}

static int cookie_close(void *c)
{
    int rc = close(((cookie *)c)->fd);
    free(c);
    return rc;
}

static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);

static FILE *budget_fopen(FILE *(*real)(const char *, const char *), const char *path, const char *mode)
{
    int flags;
    if (write_budget < 0 || !real) return real ? real(path, mode) : NULL;
    switch (mode[0]) {
    case 'w':
        flags = O_WRONLY | O_CREAT | O_TRUNC;
        break;
    case 'a':
        flags = O_WRONLY | O_CREAT | O_APPEND;
        break;
    default:
        return real(path, mode); /* "r" and "r+" */
    }
    if (strchr(mode, '+')) flags = (flags & ~O_WRONLY) | O_RDWR;
    if (strchr(mode, 'x')) flags |= O_EXCL;
    if (strchr(mode, 'e')) flags |= O_CLOEXEC;
    int fd = open(path, flags, 0666);
    if (fd < 0) return NULL;
    if (!write_allowed(fd, 0)) {
        close(fd);
        return NULL;
    }
    struct stat sb;
    int watched = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (watched && under_len) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, target, sizeof target - 1);
        target[k < 0 ? 0 : k] = 0;
        watched = !strncmp(target, under, under_len) && (target[under_len] == '/' || target[under_len] == 0);
    }
    if (!watched) return fdopen(fd, mode);
    cookie *c = __libc_malloc(sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    cookie_io_functions_t io = {cookie_read, cookie_write, cookie_seek, cookie_close};
    FILE *f = fopencookie(c, mode, io);
    if (!f) cookie_close(c);
    return f;
}

FILE *fopen(const char *path, const char *mode) { return budget_fopen(real_fopen, path, mode); }
FILE *fopen64(const char *path, const char *mode) { return budget_fopen(real_fopen64, path, mode); }

/* ---- set-up and report --------------------------------------------------- */

__attribute__((constructor)) static void failmalloc_init(void)
{
    dl_iterate_phdr(find_exe, NULL);
    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_pwrite = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    real_fopen = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    real_fopen64 = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
    const char *v;
    if ((v = getenv("DF_FAIL_ALLOC_AT"))) fail_at = atol(v);
    if ((v = getenv("DF_FAIL_ALLOC_COUNT"))) counting = atoi(v) != 0;
    if ((v = getenv("DF_FAIL_ALLOC_TRACE"))) trace = atoi(v) != 0;
    if ((v = getenv("DF_FAIL_WRITE_AFTER"))) write_budget = atoll(v);
    if ((v = getenv("DF_FAIL_WRITE_UNDER")) && realpath(v, under)) under_len = strlen(under);
    ready = 1;
}

__attribute__((destructor)) static void failmalloc_report(void)
{
    if (!counting) return;
    char msg[64];
    int len = snprintf(msg, sizeof msg, "%ld\n", calls);
    const char *path = getenv("DF_FAIL_REPORT");
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 2;
    if (fd >= 0 && len > 0) (void)!real_write(fd, msg, (size_t)len);
    if (path && fd >= 0) close(fd);
}
