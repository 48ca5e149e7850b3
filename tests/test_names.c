/*
 * test_names.c — engine/names.c: the spellings field teams use normalise to
 * one key; what only the reconciliation stage can equate stays apart; the
 * output never overflows its buffer and a truncated key is a prefix of the
 * full one.
 */
#include "dfint.h"
#include "harness.h"

#define CANARY 0x5A

static const char *norm(const char *in)
{
    static char out[256];
    df__name_normalize(in, out, sizeof out);
    return out;
}

static const char *pnorm(const char *in)
{
    static char out[256];
    df__pcode_normalize(in, out, sizeof out);
    return out;
}

/* Two spellings that must give the same key. */
#define EXPECT_SAME_NAME(a, b)                                                                                         \
    do {                                                                                                               \
        char ka_[256], kb_[256];                                                                                       \
        df__name_normalize((a), ka_, sizeof ka_);                                                                      \
        df__name_normalize((b), kb_, sizeof kb_);                                                                      \
        if (strcmp(ka_, kb_) != 0) HARNESS_FAIL("\"%s\" -> \"%s\" but \"%s\" -> \"%s\"", (a), ka_, (b), kb_);          \
    } while (0)

TEST(name_mosul_spellings)
{
    static const char *spellings[] = {"Al-Mosul", "Al Mosul", "mosul", "AL MOSUL", "al-mosul", " Mosul ", "Mosul."};
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) EXPECT_STR(norm(spellings[i]), "mosul");
}

TEST(name_articles_and_punctuation)
{
    EXPECT_SAME_NAME("Salah Al-Din", "Salah al-Din");
    EXPECT_STR(norm("Salah Al-Din"), "salahdin");
    EXPECT_SAME_NAME("Al-Ka'im", "Al-Kaim");
    EXPECT_SAME_NAME("Al-Kaim", "Al Ka`im");
    EXPECT_STR(norm("Al-Ka'im"), "kaim");
    EXPECT_SAME_NAME("Thi-Qar", "Thi Qar");
    EXPECT_STR(norm("Thi-Qar"), "thiqar");
    EXPECT_STR(norm("An-Najaf"), "najaf");
    EXPECT_STR(norm("Ash Sharqat"), "sharqat");
    EXPECT_STR(norm("Ar-Ramadi"), "ramadi");
    EXPECT_STR(norm("Tal Afar"), "talafar");       /* "tal" is a word, not an article */
    EXPECT_STR(norm("Alqosh"), "alqosh");          /* an article only as a whole token */
    EXPECT_STR(norm("Hamdaniya 2"), "hamdaniya2"); /* digits kept */
    EXPECT_STR(norm(""), "");
    EXPECT_STR(norm("Al"), "");
    EXPECT_STR(norm("- ' `"), "");
}

/* Transliteration variants are not equal after normalisation; their
 * consonant skeletons are. */
TEST(name_normalisation_and_skeleton)
{
    char a[64], b[64], sa[64], sb[64];
    static const char *pairs[][2] = {{"Tel Kaif", "Tilkaef"}, {"Makhmur", "Makhmour"}, {"Hamdaniya", "Al Hamdaniyah"},
                                     {"Aqra", "Akra"},        {"Wassit", "Wasit"},     {"Tilkaif", "Telkaif"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        df__name_normalize(pairs[i][0], a, sizeof a);
        df__name_normalize(pairs[i][1], b, sizeof b);
        df__name_skeleton(a, sa, sizeof sa);
        df__name_skeleton(b, sb, sizeof sb);
        if (strcmp(sa, sb) != 0) HARNESS_FAIL("skeletons of %s and %s: %s, %s", pairs[i][0], pairs[i][1], sa, sb);
    }
    EXPECT_STR(norm("Tel Kaif"), "telkaif");
    EXPECT_STR(norm("Mosul District"), "mosul");
    EXPECT_STR(norm("Ninewa Governorate"), "ninewa");
    EXPECT_INT(df__name_distance("mosul", "mousl", 3), 1); /* su → us */
    EXPECT_INT(df__name_distance("mosul", "musol", 3), 2);
    EXPECT_INT(df__name_distance("mosul", "mosl", 3), 1);
    EXPECT_INT(df__name_distance("mosul", "msoul", 3), 1); /* a transposition */
    EXPECT_INT(df__name_distance("mosul", "baghdad", 2), 3);
}

TEST(name_unicode_folding)
{
    const char *zuhur = "\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1"; /* زهور */
    /* the joined Arabic article goes, like the Latin one */
    EXPECT_STR(norm("\xd8\xa7\xd9\x84\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1"), zuhur);
    EXPECT_STR(norm("Al-\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1"), zuhur);
    EXPECT_STR(norm("Hay \xd8\xa7\xd9\x84\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1"), "hay\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1");
    /* accents off: Erbil É, Al-Qādisiyyah */
    EXPECT_STR(norm("Erbil \xc3\x89"), "erbile");
    EXPECT_STR(norm("Al-Q\xc4\x81"
                    "disiyyah"),
               "qadisiyyah");
    /* alef with hamza = bare alef; taa marbuta = haa; tatweel and harakat go */
    EXPECT_STR(norm("\xd8\xa3\xd8\xb1\xd8\xa8\xd9\x8a\xd9\x84"), norm("\xd8\xa7\xd8\xb1\xd8\xa8\xd9\x8a\xd9\x84"));
    EXPECT_STR(norm("\xd8\xb3\xd9\x85\xd8\xa7\xd9\x88\xd8\xa9"), norm("\xd8\xb3\xd9\x85\xd8\xa7\xd9\x88\xd9\x87"));
    EXPECT_STR(norm("\xd9\x86\xd9\x80\xd9\x8a\xd9\x86\xd9\x8e\xd9\x88\xd9\x89"),
               norm("\xd9\x86\xd9\x8a\xd9\x86\xd9\x88\xd9\x8a"));
    /* fullwidth letters, curly apostrophes */
    EXPECT_STR(norm("\xef\xbc\xad\xef\xbd\x8f\xef\xbd\x93\xef\xbd\x95\xef\xbd\x8c"), "mosul");
    EXPECT_STR(norm("Ka\xe2\x80\x99im"), "kaim");
    /* an apostrophe joins: Qal'at Saleh keeps its "at" */
    EXPECT_STR(norm("Qal'at Saleh"), "qalatsaleh");
    EXPECT_STR(norm("Al-Ka'im"), "kaim");
}

/* At every cap from 1 up: NUL-terminated, nothing written past cap, and the
 * result is the prefix of the full key that fits. */
static void check_caps(void (*fn)(const char *, char *, size_t), const char *fname, const char *in)
{
    char full[512];
    fn(in, full, sizeof full);
    size_t flen = strlen(full);
    for (size_t cap = 1; cap <= flen + 3; cap++) {
        unsigned char buf[600];
        memset(buf, CANARY, sizeof buf);
        fn(in, (char *)buf, cap);
        size_t n = strnlen((char *)buf, cap);
        size_t want = flen < cap - 1 ? flen : cap - 1;
        while (want > 0 && want < flen && ((unsigned char)full[want] & 0xC0) == 0x80) want--; /* whole characters */
        if (n == cap) {
            HARNESS_FAIL("%s(\"%s\", cap %zu): no NUL within cap", fname, in, cap);
            continue;
        }
        if (n != want || memcmp(buf, full, n) != 0)
            HARNESS_FAIL("%s(\"%s\", cap %zu): got \"%s\", want the first %zu bytes of \"%s\"", fname, in, cap,
                         (char *)buf, want, full);
        for (size_t k = cap; k < sizeof buf; k++)
            if (buf[k] != CANARY) {
                HARNESS_FAIL("%s(\"%s\", cap %zu): byte %zu written past the cap", fname, in, cap, k);
                break;
            }
    }
    /* cap 0: nothing at all is written */
    unsigned char z = CANARY;
    fn(in, (char *)&z, 0);
    if (z != CANARY) HARNESS_FAIL("%s(\"%s\", cap 0) wrote a byte", fname, in);
}

TEST(name_small_caps)
{
    char out[4];
    df__name_normalize("Al-Mosul", out, 1);
    EXPECT_STR(out, "");
    df__name_normalize("Al-Mosul", out, 4);
    EXPECT_STR(out, "mos");
    check_caps(df__name_normalize, "df__name_normalize", "Al-Mosul");
    check_caps(df__name_normalize, "df__name_normalize", "Salah Al-Din Governorate");
    check_caps(df__name_normalize, "df__name_normalize", "Al-Ka'im \xd8\xa7\xd9\x84\xd8\xb2\xd9\x87\xd9\x88\xd8\xb1");
}

TEST(name_long_input)
{
    /* A name longer than any buffer: truncated, terminated, no overflow. */
    char in[2000], out[256];
    for (size_t i = 0; i < sizeof in - 1; i++) in[i] = (char)("abcdefgh -"[i % 10]);
    in[sizeof in - 1] = '\0';
    df__name_normalize(in, out, sizeof out);
    EXPECT_INT(strlen(out), sizeof out - 1);
    EXPECT(strncmp(out, "abcdefghabcdefgh", 16) == 0);
}

TEST(pcode_normalize)
{
    EXPECT_STR(pnorm("IRQ-G15Q05"), "IQG15Q05");
    EXPECT_STR(pnorm("IQG15Q05"), "IQG15Q05");
    EXPECT_STR(pnorm("iqg15q05"), "IQG15Q05");
    EXPECT_STR(pnorm("IQ G15 Q05"), "IQG15Q05");
    EXPECT_STR(pnorm("irq-g15q05"), "IQG15Q05");
    EXPECT_STR(pnorm(" IRQ G15 "), "IQG15");
    EXPECT_STR(pnorm("IRQ-G15"), "IQG15");
    EXPECT_STR(pnorm("IRQG"), "IQG");
    EXPECT_STR(pnorm("IRQ"), "IRQ");
    EXPECT_STR(pnorm("IRQ-"), "IRQ");
    EXPECT_STR(pnorm("IRQ-X1"), "IRQX1"); /* not an admin code: left alone */
    EXPECT_STR(pnorm(""), "");
}

TEST(pcode_small_caps)
{
    char out[16];
    df__pcode_normalize("IRQ-G15Q05", out, 1);
    EXPECT_STR(out, "");
    df__pcode_normalize("IRQ-G15Q05", out, 4);
    EXPECT_STR(out, "IQG");
    df__pcode_normalize("IRQ-G15Q05", out, 9); /* exactly the size of "IQG15Q05" */
    EXPECT_STR(out, "IQG15Q05");
    check_caps(df__pcode_normalize, "df__pcode_normalize", "IRQ-G15Q05");
    check_caps(df__pcode_normalize, "df__pcode_normalize", "IQ G15 Q05");
    check_caps(df__pcode_normalize, "df__pcode_normalize", "IRQ");
}

/* issue 11 trap 6: place-type words of French, Spanish, Portuguese and
 * Arabic transliteration go like "District"; abbreviations are written
 * out; a name made of such words only keeps them. */
TEST(name_place_words_and_abbreviations)
{
    EXPECT_SAME_NAME("Commune de Jacmel", "Jacmel");
    EXPECT_SAME_NAME("Département du Lac", "Lac");
    EXPECT_SAME_NAME("DEPARTEMENT DE L'OUEST", "Ouest");
    EXPECT_SAME_NAME("Section communale de Bas Limbé", "Bas Limbe");
    EXPECT_SAME_NAME("Municipio de San José", "San Jose");
    EXPECT_SAME_NAME("Provincia de La Habana", "La Habana");
    EXPECT_SAME_NAME("Département de La Nya", "La Nya");
    EXPECT_SAME_NAME("Wilaya de Tunis", "Tunis");
    EXPECT_SAME_NAME("Mohafaza Beyrouth", "Beyrouth");
    EXPECT_SAME_NAME("Localité de Kaya", "Kaya");
    EXPECT_SAME_NAME("Gedaref State", "Gedaref");
    EXPECT_SAME_NAME("Kassala Locality", "Kassala");
    EXPECT_SAME_NAME("Commune de L'Asile", "L'Asile");
    EXPECT_SAME_NAME("St. Marc", "Saint-Marc");
    EXPECT_SAME_NAME("Ste Anne", "Sainte-Anne");
    EXPECT_SAME_NAME("S. Tomé", "São Tomé");
    EXPECT_SAME_NAME("Sta. Cruz", "Santa Cruz");
    /* joining words stay where no unit word stands before them */
    EXPECT_STR(norm("Kafr de Dawwar"), "kafrdedawwar");
    /* nothing but unit words: kept, not an empty key that fits nothing */
    EXPECT_STR(norm("Commune"), "commune");
    EXPECT_STR(norm("Centre"), "centre");
}

/* issue 11 trap 6: "Not available", "N/A", "Unknown", "-" and empty are
 * missing values, not names. */
TEST(name_missing_values)
{
    static const char *missing[] = {"", "-", "N/A", "n/a", "Not available", "NOT AVAILABLE", " Unknown ", "none", NULL};
    static const char *names[] = {"Ninewa", "Na'ima", "Unknownville", "Not", "Nil River", NULL};
    for (int i = 0; missing[i]; i++)
        if (!df__name_missing(missing[i])) HARNESS_FAIL("\"%s\" is a missing value", missing[i]);
    for (int i = 0; names[i]; i++)
        if (df__name_missing(names[i])) HARNESS_FAIL("\"%s\" is a name", names[i]);
    EXPECT(df__name_missing(NULL));
}

int main(void)
{
    RUN(name_mosul_spellings);
    RUN(name_articles_and_punctuation);
    RUN(name_normalisation_and_skeleton);
    RUN(name_unicode_folding);
    RUN(name_small_caps);
    RUN(name_long_input);
    RUN(pcode_normalize);
    RUN(pcode_small_caps);
    RUN(name_place_words_and_abbreviations);
    RUN(name_missing_values);
    return harness_done();
}
