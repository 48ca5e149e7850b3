/*
 * test_escape.c — the one XML/HTML escaper (engine/escape.c, issue 17 item
 * 29), used by the QGIS project and the situation report's HTML.
 */
#include "df_core.h"
#include "harness.h"

TEST(entities_and_length) /* issue 17 item 29 */
{
    const char *in = "Ninawa <north> & \"Mosul\" — الموصل";
    const char *want = "Ninawa &lt;north&gt; &amp; &quot;Mosul&quot; — الموصل";
    char out[128];
    size_t n = df__xml_escape(in, NULL);
    EXPECT_INT((long)n, (long)strlen(want));
    EXPECT_INT((long)df__xml_escape(in, out), (long)n);
    EXPECT_STR(out, want);
    EXPECT_INT((long)df__xml_escape(NULL, out), 0);
    EXPECT_STR(out, "");
}

TEST(long_text_is_never_cut) /* qgis.c had one that stopped at ~1 KB */
{
    enum { N = 5000 };
    static char in[N + 1], out[5 * N + 1];
    for (int i = 0; i < N; i++) in[i] = i % 2 ? '&' : 'a';
    size_t n = df__xml_escape(in, out);
    EXPECT_INT((long)n, (long)(N / 2 * (1 + 5)));
    EXPECT(strcmp(out + n - 5, "&amp;") == 0);
}

TEST(to_a_file_the_same_text) /* the situation report writes to its HTML file */
{
    const char *in = "a<b>&\"c\"";
    char buf[64] = "", want[64];
    FILE *f = tmpfile();
    if (!f) SKIP("no temporary file");
    df__xml_escape_put(f, in);
    rewind(f);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = '\0';
    fclose(f);
    df__xml_escape(in, want);
    EXPECT_STR(buf, want);
}

int main(void)
{
    RUN(entities_and_length);
    RUN(long_text_is_never_cut);
    RUN(to_a_file_the_same_text);
    return harness_done();
}
