/*
 * The C ABI from C: every function, good and bad input. Built and run by tests/c_abi.rs
 * (against the shared and the static library, under valgrind and AddressSanitizer).
 *
 * usage: abi_test MODEL_OUT SAMPLE_CSV_OUT
 *   writes a model saved through sv_model_to_bytes and 50 rows sampled from it with seed 42,
 *   so that the test can check that the CLI loads the model and samples the same rows.
 */
#include "synthvol.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond)) {                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                         \
            fprintf(stderr, " [last error: %s]\n", sv_last_error()); \
            failures++;                                           \
        }                                                         \
    } while (0)

#define OK(call) CHECK((call) == SV_OK, "%s", #call)

/* Expects `status` from a call, and a message containing `needle`. */
static void expect(sv_status got, sv_status want, const char *needle, const char *what) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: status %d, expected %d [%s]\n", what, got, want, sv_last_error());
        failures++;
        return;
    }
    if (needle && !strstr(sv_last_error(), needle)) {
        fprintf(stderr, "FAIL %s: message '%s' lacks '%s'\n", what, sv_last_error(), needle);
        failures++;
    }
}

#define N 400

/* A table: x (numeric, some missing), n (integer), g (R-style factor, code_base 1, NA 0),
 * y (binary target). */
static sv_table *make_table(size_t n, unsigned seed, const char *extra_level) {
    sv_table *t = NULL;
    double *x = malloc(n * sizeof *x), *k = malloc(n * sizeof *k);
    int32_t *g = malloc(n * sizeof *g), *y = malloc(n * sizeof *y);
    unsigned s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        double u = (double)(s >> 8) / 16777216.0;
        x[i] = (i % 17 == 3) ? NAN : 10.0 * u + (double)(i % 3);
        k[i] = (double)(i % 5);
        g[i] = (i % 11 == 0) ? 0 : (int32_t)(1 + (i % 3));
        if (extra_level && i % 4 == 0) g[i] = 4;
        y[i] = (x[i] > 6.0 || (i % 5) == 4) ? 1 : 0;
    }
    const char *levels[] = {"red", "green", "blue", extra_level};
    const char *ylevels[] = {"no", "yes"};
    OK(sv_table_new(&t));
    OK(sv_table_add_numeric(t, "x", x, n, 0));
    OK(sv_table_add_numeric(t, "n", k, n, 1));
    OK(sv_table_add_categorical(t, "g", g, n, 1, 0, levels, extra_level ? 4 : 3));
    OK(sv_table_add_categorical(t, "y", y, n, 0, -1, ylevels, 2));
    free(x); free(k); free(g); free(y);
    return t;
}

static void small_options(sv_fit_options *o) {
    OK(sv_fit_options_init(o));
    o->target = "y";
    o->steps = 30;
    o->batch_size = 64;
    o->seed = 3;
    o->threads = 2;
    o->extra_json = "{\"layers\": [16, 16], \"timesteps\": 10, \"time_dim\": 8}";
}

static int progress_calls = 0;
static int32_t count_progress(void *user, const char *stage, uint64_t done, uint64_t total, double loss) {
    (void)loss;
    int *calls = user;
    (*calls)++;
    if (!stage || done > total) failures++;
    return 0;
}
static int32_t stop_now(void *user, const char *stage, uint64_t done, uint64_t total, double loss) {
    (void)user; (void)stage; (void)done; (void)total; (void)loss;
    return 1;
}

static char logged[512];
static void on_log(void *user, int32_t level, const char *message) {
    (void)user;
    if (level == SV_LOG_INFO) snprintf(logged, sizeof logged, "%s", message);
}

/* A log callback that removes itself: the library must not hold its lock while calling out. */
static int reentered = 0;
static void on_log_reenter(void *user, int32_t level, const char *message) {
    (void)user; (void)level; (void)message;
    reentered = sv_set_log_callback(NULL, SV_LOG_INFO, NULL) == SV_OK;
}

/* A streaming sink: counts rows, and stops after `stop_after` calls when it is set. */
struct rows_seen { size_t rows, calls, stop_after; };
static int32_t on_rows(void *user, const sv_table *rows) {
    struct rows_seen *r = user;
    size_t n = 0;
    if (sv_table_n_rows(rows, &n) != SV_OK) return 1;
    r->rows += n;
    r->calls++;
    return r->stop_after && r->calls >= r->stop_after;
}

struct sample_job { const sv_model *model; sv_table *out; sv_status status; };
static void *sample_thread(void *arg) {
    struct sample_job *j = arg;
    j->status = sv_sample(j->model, 300, 11, 1, NULL, NULL, NULL, &j->out);
    return NULL;
}

static int same_tables(const sv_table *a, const sv_table *b) {
    size_t ra, rb, ca, cb;
    if (sv_table_n_rows(a, &ra) || sv_table_n_rows(b, &rb) || ra != rb) return 0;
    if (sv_table_n_cols(a, &ca) || sv_table_n_cols(b, &cb) || ca != cb) return 0;
    int same = 1;
    double *da = malloc(ra * sizeof *da), *db = malloc(ra * sizeof *db);
    int32_t *ia = malloc(ra * sizeof *ia), *ib = malloc(ra * sizeof *ib);
    for (size_t c = 0; c < ca; c++) {
        int32_t kind;
        sv_table_column_kind(a, c, &kind, NULL);
        if (kind == SV_NUMERIC) {
            sv_table_get_numeric(a, c, da, ra);
            sv_table_get_numeric(b, c, db, ra);
            for (size_t i = 0; i < ra; i++)
                if (!(da[i] == db[i] || (isnan(da[i]) && isnan(db[i])))) same = 0;
        } else {
            sv_table_get_categorical(a, c, ia, ra, 0, -1);
            sv_table_get_categorical(b, c, ib, ra, 0, -1);
            if (memcmp(ia, ib, ra * sizeof *ia)) same = 0;
        }
    }
    free(da); free(db); free(ia); free(ib);
    return same;
}

/* A caller's analysis for sv_tune: |mean of x in train - mean of x in valid|, read through
 * the borrowed tables; user points at a call counter. */
static double mean_x(const sv_table *t) {
    size_t n = 0;
    if (sv_table_n_rows(t, &n) != SV_OK || n == 0) return NAN;
    double *v = malloc(n * sizeof *v), s = 0;
    size_t k = 0;
    sv_table_get_numeric(t, 0, v, n);
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) { s += v[i]; k++; }
    free(v);
    return k ? s / (double)k : NAN;
}
static int32_t my_analysis(void *user, const sv_table *train, const sv_table *valid, double *error) {
    (*(int *)user)++;
    *error = fabs(mean_x(train) - mean_x(valid));
    return isnan(*error) ? 1 : 0;
}
static int32_t failing_analysis(void *user, const sv_table *train, const sv_table *valid, double *error) {
    (void)user; (void)train; (void)valid; (void)error;
    return 3;
}

struct cancel_job { sv_cancel *token; };
static void *cancel_soon(void *arg) {
    sv_cancel_request(((struct cancel_job *)arg)->token);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: abi_test MODEL_OUT SAMPLE_CSV_OUT\n");
        return 2;
    }
    /* Versions. */
    CHECK(sv_abi_version() == SV_ABI_VERSION, "ABI %u vs header %d", sv_abi_version(), SV_ABI_VERSION);
    CHECK(strlen(sv_version()) > 0, "version");
    CHECK(strcmp(sv_last_error(), "") == 0, "no error yet");

    /* Tables: build, read back. */
    sv_table *t = make_table(N, 1, NULL);
    size_t rows = 0, cols = 0, needed = 0, nlev = 0;
    OK(sv_table_n_rows(t, &rows));
    OK(sv_table_n_cols(t, &cols));
    CHECK(rows == N && cols == 4, "%zu rows %zu cols", rows, cols);
    OK(sv_table_column_name(t, 2, NULL, 0, &needed));
    CHECK(needed == 2, "needed %zu", needed);
    char name[8];
    OK(sv_table_column_name(t, 2, name, sizeof name, NULL));
    CHECK(strcmp(name, "g") == 0, "name %s", name);
    expect(sv_table_column_name(t, 2, name, 1, &needed), SV_E_BUFFER_TOO_SMALL, "2 are needed", "small buffer");
    int32_t kind = -1, is_int = -1;
    OK(sv_table_column_kind(t, 1, &kind, &is_int));
    CHECK(kind == SV_NUMERIC && is_int == 1, "kind %d int %d", kind, is_int);
    OK(sv_table_column_kind(t, 2, &kind, NULL));
    CHECK(kind == SV_CATEGORICAL, "kind %d", kind);
    OK(sv_table_n_levels(t, 2, &nlev));
    CHECK(nlev == 3, "levels %zu", nlev);
    char lev[16];
    OK(sv_table_level(t, 2, 2, lev, sizeof lev, NULL));
    CHECK(strcmp(lev, "blue") == 0, "level %s", lev);
    double xs[N];
    int32_t gs[N];
    OK(sv_table_get_numeric(t, 0, xs, N));
    CHECK(isnan(xs[3]) && !isnan(xs[4]), "NaN is missing");
    OK(sv_table_get_categorical(t, 2, gs, N, 1, 0));
    CHECK(gs[0] == 0 && gs[1] == 2, "codes round-trip (%d %d)", gs[0], gs[1]);
    expect(sv_table_get_categorical(t, 2, gs, N, 1, 2), SV_E_INVALID_ARGUMENT, "na_code 2 is also the code",
           "na_code colliding with a level code on the way out");
    expect(sv_table_get_numeric(t, 0, xs, N - 1), SV_E_BUFFER_TOO_SMALL, "399", "short buffer");
    expect(sv_table_get_numeric(t, 2, xs, N), SV_E_INVALID_ARGUMENT, "categorical", "wrong kind");
    expect(sv_table_n_levels(t, 0, &nlev), SV_E_INVALID_ARGUMENT, "numeric", "levels of numeric");
    expect(sv_table_level(t, 2, 9, lev, sizeof lev, NULL), SV_E_INVALID_ARGUMENT, "out of range", "level range");
    expect(sv_table_n_rows(t, NULL), SV_E_NULL, "out", "NULL out");
    expect(sv_table_column_kind(t, 99, &kind, NULL), SV_E_INVALID_ARGUMENT, "out of range", "column range");

    /* Bad tables. */
    sv_table *bad = NULL;
    OK(sv_table_new(&bad));
    double v3[3] = {1, 2, 3};
    int32_t c3[3] = {0, 1, 5};
    const char *ab[] = {"a", "b"};
    const char *dup[] = {"a", "a"};
    const char *nul[] = {"a", NULL};
    const char bad_utf8[] = {'\xff', '\xfe', 0};
    const char *badl[] = {"a", bad_utf8};
    expect(sv_table_add_categorical(bad, "c", c3, 3, 0, -1, ab, 2), SV_E_INVALID_ARGUMENT, "row 3: code 5", "code outside levels");
    expect(sv_table_add_categorical(bad, "c", c3, 2, 0, -1, dup, 2), SV_E_INVALID_ARGUMENT, "'a' appears twice", "duplicate levels");
    expect(sv_table_add_categorical(bad, "c", c3, 2, 0, -1, nul, 2), SV_E_NULL, "level 1", "NULL level");
    expect(sv_table_add_categorical(bad, "c", c3, 2, 0, -1, badl, 2), SV_E_UTF8, "level 1", "non-UTF-8 level");
    expect(sv_table_add_numeric(bad, bad_utf8, v3, 3, 0), SV_E_UTF8, "name", "non-UTF-8 name");
    expect(sv_table_add_numeric(bad, NULL, v3, 3, 0), SV_E_NULL, "name", "NULL name");
    expect(sv_table_add_numeric(bad, "v", NULL, 3, 0), SV_E_NULL, "values", "NULL values");
    expect(sv_table_add_numeric(bad, "", v3, 3, 0), SV_E_INVALID_ARGUMENT, "empty name", "empty name");
    expect(sv_table_add_categorical(bad, "c", c3, 2, 0, 1, ab, 2), SV_E_INVALID_ARGUMENT,
           "na_code 1 is also the code of level 'b'", "na_code among the level codes");
    expect(sv_table_add_numeric(NULL, "v", v3, 3, 0), SV_E_NULL, "table", "NULL table");
    OK(sv_table_add_numeric(bad, "v", v3, 3, 0));
    expect(sv_table_add_numeric(bad, "w", v3, 2, 0), SV_E_INVALID_ARGUMENT, "'w' has 2 values", "mismatched lengths");
    expect(sv_table_add_numeric(bad, "v", v3, 3, 0), SV_E_INVALID_ARGUMENT, "'v' appears twice", "duplicate name");
    double inf3[3] = {1, INFINITY, 3};
    expect(sv_table_add_numeric(bad, "i", inf3, 3, 0), SV_E_DATA, "not finite", "infinite value");
    OK(sv_table_n_cols(bad, &cols));
    CHECK(cols == 1, "failed adds leave the table as it was (%zu columns)", cols);
    sv_table_free(bad);
    sv_table_free(NULL);

    /* Zero rows: a valid table that cannot be fitted. */
    sv_table *empty = NULL;
    OK(sv_table_new(&empty));
    OK(sv_table_add_numeric(empty, "v", NULL, 0, 0));
    sv_fit_options o;
    small_options(&o);
    o.target = NULL;
    sv_model *m = NULL;
    expect(sv_fit(empty, &o, NULL, NULL, NULL, &m), SV_E_DATA, "0 row", "zero rows");
    CHECK(m == NULL, "no model on failure");
    sv_table_free(empty);

    /* Options. */
    small_options(&o);
    sv_fit_options wrong = o;
    wrong.struct_size = 8;
    expect(sv_fit(t, &wrong, NULL, NULL, NULL, &m), SV_E_INVALID_ARGUMENT, "struct_size", "wrong struct_size");
    wrong = o;
    wrong.extra_json = "{\"layerz\": [4]}";
    expect(sv_fit(t, &wrong, NULL, NULL, NULL, &m), SV_E_INVALID_ARGUMENT, "'layerz'", "unknown option");
    wrong = o;
    wrong.extra_json = "{\"max_grad_norm\": 1}";
    expect(sv_fit(t, &wrong, NULL, NULL, NULL, &m), SV_E_INVALID_ARGUMENT, "private", "DP option without DP");
    wrong = o;
    wrong.epsilon = 1.0;
    expect(sv_fit(t, &wrong, NULL, NULL, NULL, &m), SV_E_INVALID_ARGUMENT, "schema", "DP without schema");
    wrong = o;
    wrong.target = "nope";
    expect(sv_fit(t, &wrong, NULL, NULL, NULL, &m), SV_E_INVALID_ARGUMENT, "'nope'", "unknown target");
    expect(sv_fit(NULL, &o, NULL, NULL, NULL, &m), SV_E_NULL, "data", "NULL data");
    expect(sv_fit(t, NULL, NULL, NULL, NULL, &m), SV_E_NULL, "options", "NULL options");
    expect(sv_fit(t, &o, NULL, NULL, NULL, NULL), SV_E_NULL, "out", "NULL out");
    expect(sv_fit_options_init(NULL), SV_E_NULL, "options", "NULL options init");
    expect(sv_set_log_callback(on_log, 7, NULL), SV_E_INVALID_ARGUMENT, "min_level 7", "invalid enum");

    /* Fit with progress; cancel by callback and by token. */
    OK(sv_fit(t, &o, count_progress, &progress_calls, NULL, &m));
    CHECK(progress_calls > 0, "progress was reported");
    sv_model *stopped = NULL;
    expect(sv_fit(t, &o, stop_now, NULL, NULL, &stopped), SV_E_CANCELLED, NULL, "cancel by callback");
    CHECK(stopped == NULL, "no model when cancelled");
    sv_cancel *token = NULL;
    OK(sv_cancel_new(&token));
    sv_cancel_request(token);
    expect(sv_fit(t, &o, NULL, NULL, token, &stopped), SV_E_CANCELLED, NULL, "cancel by token");
    sv_cancel_free(token);
    OK(sv_cancel_new(&token));
    struct cancel_job cj = {token};
    pthread_t ct;
    pthread_create(&ct, NULL, cancel_soon, &cj);
    sv_fit_options longer = o;
    longer.steps = 100000;
    sv_status st = sv_fit(t, &longer, NULL, NULL, token, &stopped);
    pthread_join(ct, NULL);
    expect(st, SV_E_CANCELLED, NULL, "cancel from another thread");
    sv_cancel_free(token);
    sv_cancel_free(NULL);
    sv_cancel_request(NULL);
    expect(sv_cancel_new(NULL), SV_E_NULL, "out", "NULL cancel out");

    /* Sample; four threads at once give the rows of four calls in a row. */
    sv_table *s1 = NULL, *s2 = NULL;
    OK(sv_sample(m, 300, 11, 1, NULL, NULL, NULL, &s1));
    OK(sv_sample(m, 300, 11, 2, NULL, NULL, NULL, &s2));
    CHECK(same_tables(s1, s2), "same seed, different thread counts, same rows");
    struct sample_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].model = m;
        jobs[i].out = NULL;
        pthread_create(&th[i], NULL, sample_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].status == SV_OK && same_tables(jobs[i].out, s1), "concurrent sample %d", i);
        sv_table_free(jobs[i].out);
    }
    OK(sv_table_n_cols(s1, &cols));
    CHECK(cols == 4, "sampled columns");
    expect(sv_sample(m, 0, 1, 1, NULL, NULL, NULL, &s2), SV_E_INVALID_ARGUMENT, "at least 1", "zero rows to sample");
    expect(sv_sample(m, (size_t)-1, 1, 1, NULL, NULL, NULL, &s2), SV_E_RESOURCES, "needs about", "SIZE_MAX rows");
    expect(sv_sample(m, (size_t)1000000000000ull, 1, 1, NULL, NULL, NULL, &s2), SV_E_RESOURCES,
           "ask for fewer rows per call", "10^12 rows");
    expect(sv_sample(NULL, 5, 1, 1, NULL, NULL, NULL, &s2), SV_E_NULL, "model", "NULL model");
    expect(sv_sample(m, 5, 1, 1, stop_now, NULL, NULL, &s2), SV_E_CANCELLED, NULL, "cancelled sample");
    sv_table_free(s2);

    /* Ranges: rows 100..299 of the sample are the same rows, whatever the batch size. */
    sv_table *r1 = NULL, *r2 = NULL, *whole = NULL;
    OK(sv_sample(m, 300, 11, 1, NULL, NULL, NULL, &whole));
    OK(sv_sample_range(m, 11, 100, 200, "{\"batch_size\": 7, \"threads\": 1}", NULL, NULL, NULL, &r1));
    OK(sv_sample_range(m, 11, 0, 300, NULL, NULL, NULL, NULL, &r2));
    CHECK(same_tables(r2, whole), "range from 0 = sv_sample");
    double xa[200], xb[300];
    OK(sv_table_get_numeric(r1, 0, xa, 200));
    OK(sv_table_get_numeric(whole, 0, xb, 300));
    int same = 1;
    for (int i = 0; i < 200; i++) same &= (isnan(xa[i]) && isnan(xb[100 + i])) || xa[i] == xb[100 + i];
    CHECK(same, "rows 100..299 of a range equal those of the whole sample");
    expect(sv_sample_range(m, 11, 0, 10, "{\"batchsize\": 7}", NULL, NULL, NULL, &s2), SV_E_INVALID_ARGUMENT,
           "unknown field `batchsize`", "unknown sample option");
    expect(sv_sample_range(m, 11, 0, 10, "{\"device\": \"cuda\"}", NULL, NULL, NULL, &s2), SV_E_DEVICE,
           "device 'cuda:0' was asked for, but", "cuda without a GPU");
    expect(sv_sample_range(m, 11, 0, 3, "{\"labels\": [\"no\", \"maybe\", \"yes\"]}", NULL, NULL, NULL, &s2),
           SV_E_INVALID_ARGUMENT, "'maybe' is not a class", "unknown label");
    sv_table_free(r1);
    sv_table_free(r2);
    sv_table_free(whole);
    /* Streaming: every row once; a sink that stops cancels. */
    struct rows_seen seen = {0, 0, 0};
    OK(sv_sample_stream(m, 3, 5, 1000, "{\"batch_size\": 256}", on_rows, &seen, NULL, NULL, NULL));
    CHECK(seen.rows == 1000 && seen.calls >= 4, "streamed %zu rows in %zu calls", seen.rows, seen.calls);
    struct rows_seen stop = {0, 0, 1};
    expect(sv_sample_stream(m, 3, 0, 1000, "{\"batch_size\": 256}", on_rows, &stop, NULL, NULL, NULL),
           SV_E_CANCELLED, NULL, "a sink that stops");
    expect(sv_sample_stream(m, 3, 0, 10, NULL, NULL, NULL, NULL, NULL, NULL), SV_E_NULL, "sink", "NULL sink");
    uint64_t sh_start = 0, sh_count = 0;
    OK(sv_shard_range(1000, 2, 7, &sh_start, &sh_count));
    CHECK(sh_start == 285 && sh_count == 143, "shard 2 of 7 of 1000 rows: %llu + %llu",
          (unsigned long long)sh_start, (unsigned long long)sh_count);
    expect(sv_shard_range(10, 3, 3, &sh_start, &sh_count), SV_E_INVALID_ARGUMENT, "shard 3 of 3", "no such shard");

    /* The schema read off a table; the bundled data. */
    sv_bytes *sj = NULL;
    OK(sv_table_schema_json(t, &sj));
    CHECK(strstr((const char *)sv_bytes_data(sj), "\"synthvol_schema\"") != NULL, "schema JSON");
    sv_bytes_free(sj);
    sv_table *adult = NULL;
    OK(sv_dataset("adult_test", &adult));
    size_t arows = 0;
    OK(sv_table_n_rows(adult, &arows));
    CHECK(arows == 16281, "Adult test rows: %zu", arows);
    sv_table_free(adult);
    expect(sv_dataset("iris", &adult), SV_E_INVALID_ARGUMENT, "adult_train", "unknown data set");
    OK(sv_dataset_schema_json("adult", &sj));
    CHECK(strstr((const char *)sv_bytes_data(sj), "native_country") != NULL, "Adult schema");
    sv_bytes_free(sj);

    /* Save, load, bytes, clone. */
    OK(sv_model_save(m, argv[1]));
    sv_model *loaded = NULL, *clone = NULL, *fromb = NULL;
    OK(sv_model_load(argv[1], &loaded));
    expect(sv_model_load("/nonexistent/dir/m.svmodel", &fromb), SV_E_IO, "m.svmodel", "missing file");
    sv_bytes *b = NULL;
    OK(sv_model_to_bytes(m, &b));
    CHECK(sv_bytes_len(b) > 100 && sv_bytes_data(b) != NULL, "bytes");
    OK(sv_model_from_bytes(sv_bytes_data(b), sv_bytes_len(b), &fromb));
    OK(sv_model_clone(fromb, &clone));
    sv_table *s3 = NULL;
    OK(sv_sample(clone, 300, 11, 1, NULL, NULL, NULL, &s3));
    CHECK(same_tables(s1, s3), "a model from bytes samples the same rows");
    sv_table_free(s3);
    /* The bytes go to the file the CLI will read, with rows to compare. */
    FILE *f = fopen(argv[1], "wb");
    CHECK(f && fwrite(sv_bytes_data(b), 1, sv_bytes_len(b), f) == sv_bytes_len(b), "write bytes");
    if (f) fclose(f);
    sv_table *s50 = NULL;
    OK(sv_sample(fromb, 50, 42, 0, NULL, NULL, NULL, &s50));
    OK(sv_table_write_csv(s50, argv[2]));
    sv_table *back = NULL;
    OK(sv_table_read_csv(argv[2], &back));
    OK(sv_table_n_rows(back, &rows));
    CHECK(rows == 50, "CSV round trip");
    sv_table_free(back);
    sv_table_free(s50);
    expect(sv_table_read_csv("/nonexistent.csv", &back), SV_E_IO, "nonexistent", "missing CSV");
    /* Bytes that are not a model, damaged bytes, a future format. */
    sv_model *nm = NULL;
    const uint8_t junk[] = "definitely not a model";
    expect(sv_model_from_bytes(junk, sizeof junk, &nm), SV_E_FORMAT, "not a synthvol model", "junk bytes");
    size_t len = sv_bytes_len(b);
    uint8_t *copy = malloc(len);
    memcpy(copy, sv_bytes_data(b), len);
    copy[8] = 42;
    expect(sv_model_from_bytes(copy, len, &nm), SV_E_FORMAT, "format version 42", "future format");
    memcpy(copy, sv_bytes_data(b), len);
    copy[len - 10] ^= 0xFF;
    expect(sv_model_from_bytes(copy, len, &nm), SV_E_FORMAT, NULL, "damaged bytes");
    free(copy);
    expect(sv_model_from_bytes(NULL, 5, &nm), SV_E_NULL, "data", "NULL bytes");
    CHECK(nm == NULL, "no model from bad bytes");
    sv_bytes_free(b);
    sv_bytes_free(NULL);
    CHECK(sv_bytes_len(NULL) == 0 && sv_bytes_data(NULL) == NULL, "NULL bytes queries");

    /* Model info and privacy as JSON. */
    OK(sv_model_info_json(m, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"schema\"") && strstr((const char *)sv_bytes_data(b), "\"loss_history\""), "info JSON");
    sv_bytes_free(b);
    OK(sv_model_privacy_json(m, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"private\":false") != NULL, "privacy JSON: %s", (const char *)sv_bytes_data(b));
    sv_bytes_free(b);

    /* Fine-tuning on rows with a new level; the notice goes to the log callback. */
    OK(sv_set_log_callback(on_log, SV_LOG_INFO, NULL));
    sv_table *t2 = make_table(200, 9, "violet");
    sv_fit_options ft;
    OK(sv_fit_options_init(&ft));
    ft.steps = 20;
    ft.batch_size = 32;
    ft.threads = 1;
    sv_model *tuned = NULL;
    OK(sv_fine_tune(m, t2, &ft, NULL, NULL, NULL, &tuned));
    CHECK(strstr(logged, "'g' = 'violet'") != NULL, "log: %s", logged);
    OK(sv_set_log_callback(on_log_reenter, SV_LOG_INFO, NULL));
    sv_model *tuned2 = NULL;
    OK(sv_fine_tune(m, t2, &ft, NULL, NULL, NULL, &tuned2));
    CHECK(reentered, "a log callback can change the log callback");
    sv_model_free(tuned2);
    OK(sv_set_log_callback(on_log, SV_LOG_INFO, NULL));
    ft.target = "x";
    expect(sv_fine_tune(m, t2, &ft, NULL, NULL, NULL, &nm), SV_E_INVALID_ARGUMENT, "target", "fine-tune target");
    ft.target = NULL;
    ft.epsilon = 1.0;
    expect(sv_fine_tune(m, t2, &ft, NULL, NULL, NULL, &nm), SV_E_DATA, "'violet'", "DP fine-tune undeclared level");
    OK(sv_set_log_callback(NULL, SV_LOG_INFO, NULL));
    sv_table_free(t2);

    /* A private fit from a schema, and what it spent. */
    small_options(&o);
    o.epsilon = 4.0;
    o.schema_json =
        "{\"synthvol_schema\": 1, \"columns\": ["
        "{\"name\": \"x\", \"kind\": \"numeric\", \"integer\": false, \"min\": 0, \"max\": 13, \"missing\": true},"
        "{\"name\": \"n\", \"kind\": \"numeric\", \"integer\": true, \"min\": 0, \"max\": 4, \"missing\": false},"
        "{\"name\": \"g\", \"kind\": \"categorical\", \"levels\": [\"red\", \"green\", \"blue\"], \"missing\": true},"
        "{\"name\": \"y\", \"kind\": \"categorical\", \"levels\": [\"no\", \"yes\"], \"missing\": false}]}";
    o.extra_json = "{\"layers\": [16], \"timesteps\": 10, \"time_dim\": 8, \"noise_seed\": 5}";
    sv_model *pm = NULL;
    OK(sv_fit(t, &o, NULL, NULL, NULL, &pm));
    OK(sv_model_privacy_json(pm, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"epsilon\"") != NULL, "private JSON");
    sv_bytes_free(b);
    sv_model_free(pm);
    /* Without "timesteps" a private fit uses the short diffusion that suits DP. */
    o.extra_json = "{\"layers\": [16], \"time_dim\": 8, \"noise_seed\": 5}";
    OK(sv_fit(t, &o, NULL, NULL, NULL, &pm));
    OK(sv_model_info_json(pm, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"timesteps\":20") != NULL, "private default T");
    sv_bytes_free(b);
    sv_model_free(pm);
    o.schema_json = "{not json";
    expect(sv_fit(t, &o, NULL, NULL, NULL, &pm), SV_E_INVALID_ARGUMENT, "schema_json", "bad schema JSON");

    /* Accounting. */
    double eps = 0, sigma = 0;
    OK(sv_privacy_epsilon(0.01, 1.0, 1000, 1e-5, &eps));
    CHECK(eps > 0.5 && eps < 5.0, "epsilon %g", eps);
    OK(sv_privacy_sigma(0.01, 1000, eps, 1e-5, &sigma));
    CHECK(fabs(sigma - 1.0) < 0.02, "sigma %g", sigma);
    expect(sv_privacy_epsilon(1.5, 1.0, 10, 1e-5, &eps), SV_E_INVALID_ARGUMENT, "sampling rate", "bad q");
    expect(sv_privacy_sigma(0.01, 1000, -1.0, 1e-5, &sigma), SV_E_INVALID_ARGUMENT, "positive", "bad epsilon");
    expect(sv_privacy_epsilon(0.01, 1.0, 10, 1e-5, NULL), SV_E_NULL, "epsilon_out", "NULL epsilon out");

    /* Volume tuning: the built-in analysis and a caller's callback; inference. */
    sv_table *valid = make_table(200, 31, NULL);
    OK(sv_tune(m, t, valid, "y", "{\"ratios\": [0.5, 1], \"repeats\": 2}", NULL, NULL, NULL, NULL, NULL, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"chosen_m\"") != NULL, "tune JSON");
    sv_bytes_free(b);
    int analysis_calls = 0;
    OK(sv_tune(m, t, valid, NULL, "{\"ratios\": [0.5, 1, 2], \"repeats\": 1}", my_analysis, &analysis_calls, NULL, NULL, NULL, &b));
    CHECK(analysis_calls == 1 + 3, "analysis callback calls %d", analysis_calls);
    CHECK(strstr((const char *)sv_bytes_data(b), "\"custom\"") != NULL, "custom metric");
    sv_bytes_free(b);
    expect(sv_tune(m, t, valid, NULL, NULL, failing_analysis, NULL, NULL, NULL, NULL, &b), SV_E_DATA, "returned 3", "failing analysis");
    expect(sv_tune(m, t, valid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &b), SV_E_INVALID_ARGUMENT, "target", "built-in without target");
    expect(sv_tune(m, t, valid, "y", "{\"ratio\": [1]}", NULL, NULL, NULL, NULL, NULL, &b), SV_E_INVALID_ARGUMENT, "'ratio'", "unknown tune option");
    expect(sv_tune(m, t, NULL, "y", NULL, NULL, NULL, NULL, NULL, NULL, &b), SV_E_NULL, "valid", "NULL valid");
    expect(sv_tune(m, t, valid, "y", "{\"ratios\": [1]}", NULL, NULL, stop_now, NULL, NULL, &b), SV_E_CANCELLED, NULL, "cancelled tuning");
    sv_table_free(valid);
    const sv_table *syns[2] = {s1, s1};
    OK(sv_infer(syns, 2, "x", N, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"se_corrected\"") != NULL, "infer JSON");
    sv_bytes_free(b);
    expect(sv_infer(syns, 2, "g", N, &b), SV_E_INVALID_ARGUMENT, "two-class", "infer on a 3-level target");
    expect(sv_infer(NULL, 2, "x", N, &b), SV_E_NULL, "syntheses", "NULL syntheses");

    /* Syn-Test, small: twins fine-tuned for a few steps, a few Monte Carlo chunks. */
    const char *syn_req = "{\"target\": \"n\", \"features\": [\"g\"], \"ratios\": [0.5, 1], \"mc\": 8, "
                     "\"alpha\": 0.5, \"model_rows\": 60, \"seed\": 2, "
                     "\"fine_tune\": {\"steps\": 5, \"batch_size\": 32, \"threads\": 1}}";
    OK(sv_syn_test(m, t, NULL, syn_req, NULL, NULL, NULL, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"type_i\"") != NULL, "Syn-Test JSON: %s", (const char *)sv_bytes_data(b));
    sv_bytes_free(b);
    expect(sv_syn_test(m, t, NULL, "{\"target\": \"x\"}", NULL, NULL, NULL, &b), SV_E_INVALID_ARGUMENT,
           "missing field `features`", "Syn-Test without features");
    expect(sv_syn_test(m, t, NULL, NULL, NULL, NULL, NULL, &b), SV_E_NULL, "request_json", "NULL request");

    /* Evaluation. */
    sv_table *holdout = make_table(300, 77, NULL);
    OK(sv_evaluate(t, s1, holdout, "{\"target\": \"y\", \"wasserstein_rows\": 100}", NULL, NULL, NULL, &b));
    CHECK(strstr((const char *)sv_bytes_data(b), "\"membership_auc\"") != NULL, "report JSON");
    sv_bytes_free(b);
    expect(sv_evaluate(t, s1, NULL, "{\"targt\": 1}", NULL, NULL, NULL, &b), SV_E_INVALID_ARGUMENT, "'targt'", "unknown evaluate option");
    expect(sv_evaluate(t, NULL, NULL, NULL, NULL, NULL, NULL, &b), SV_E_NULL, "synthetic", "NULL synthetic");
    expect(sv_evaluate(t, s1, NULL, NULL, stop_now, NULL, NULL, &b), SV_E_CANCELLED, NULL, "cancelled evaluation");
    sv_table_free(holdout);

    /* NULL for every pointer argument that must not be NULL. */
    {
        sv_table *tt = NULL;
        sv_model *mm = NULL;
        sv_bytes *bb = NULL;
        char buf[8];
        size_t sz;
        int32_t kind2;
        double dv[N];
        int32_t iv[N];
        const char *lv[] = {"a"};
        int32_t c1[1] = {0};
        const sv_table *with_null[1] = {NULL};
        sv_fit_options fo;
        OK(sv_fit_options_init(&fo));
        struct { sv_status got; const char *what; } nulls[] = {
            {sv_table_new(NULL), "table_new out"},
            {sv_table_add_categorical(NULL, "c", c1, 1, 0, -1, lv, 1), "add_categorical table"},
            {sv_table_add_categorical(t, NULL, c1, 1, 0, -1, lv, 1), "add_categorical name"},
            {sv_table_add_categorical(t, "c9", NULL, 1, 0, -1, lv, 1), "add_categorical codes"},
            {sv_table_add_categorical(t, "c9", c1, 1, 0, -1, NULL, 1), "add_categorical levels"},
            {sv_table_read_csv(NULL, &tt), "read_csv path"},
            {sv_table_read_csv(argv[2], NULL), "read_csv out"},
            {sv_table_write_csv(NULL, argv[2]), "write_csv table"},
            {sv_table_write_csv(t, NULL), "write_csv path"},
            {sv_table_n_rows(NULL, &sz), "n_rows table"},
            {sv_table_n_cols(NULL, &sz), "n_cols table"},
            {sv_table_n_cols(t, NULL), "n_cols out"},
            {sv_table_column_name(NULL, 0, buf, sizeof buf, &sz), "column_name table"},
            {sv_table_column_name(t, 0, NULL, sizeof buf, &sz), "column_name buf"},
            {sv_table_column_kind(NULL, 0, &kind2, NULL), "column_kind table"},
            {sv_table_column_kind(t, 0, NULL, NULL), "column_kind kind"},
            {sv_table_n_levels(NULL, 2, &sz), "n_levels table"},
            {sv_table_n_levels(t, 2, NULL), "n_levels out"},
            {sv_table_level(NULL, 2, 0, buf, sizeof buf, &sz), "level table"},
            {sv_table_level(t, 2, 0, NULL, sizeof buf, &sz), "level buf"},
            {sv_table_get_numeric(NULL, 0, dv, N), "get_numeric table"},
            {sv_table_get_numeric(t, 0, NULL, N), "get_numeric out"},
            {sv_table_get_categorical(NULL, 2, iv, N, 0, -1), "get_categorical table"},
            {sv_table_get_categorical(t, 2, NULL, N, 0, -1), "get_categorical out"},
            {sv_fine_tune(NULL, t, &fo, NULL, NULL, NULL, &mm), "fine_tune pretrained"},
            {sv_fine_tune(m, NULL, &fo, NULL, NULL, NULL, &mm), "fine_tune data"},
            {sv_fine_tune(m, t, NULL, NULL, NULL, NULL, &mm), "fine_tune options"},
            {sv_fine_tune(m, t, &fo, NULL, NULL, NULL, NULL), "fine_tune out"},
            {sv_sample(m, 5, 1, 1, NULL, NULL, NULL, NULL), "sample out"},
            {sv_model_save(NULL, argv[1]), "save model"},
            {sv_model_save(m, NULL), "save path"},
            {sv_model_load(NULL, &mm), "load path"},
            {sv_model_load(argv[1], NULL), "load out"},
            {sv_model_to_bytes(NULL, &bb), "to_bytes model"},
            {sv_model_to_bytes(m, NULL), "to_bytes out"},
            {sv_model_from_bytes(junk, sizeof junk, NULL), "from_bytes out"},
            {sv_model_clone(NULL, &mm), "clone model"},
            {sv_model_clone(m, NULL), "clone out"},
            {sv_model_info_json(NULL, &bb), "info model"},
            {sv_model_info_json(m, NULL), "info out"},
            {sv_model_privacy_json(NULL, &bb), "privacy model"},
            {sv_model_privacy_json(m, NULL), "privacy out"},
            {sv_privacy_sigma(0.01, 10, 1.0, 1e-5, NULL), "sigma out"},
            {sv_evaluate(NULL, s1, NULL, NULL, NULL, NULL, NULL, &bb), "evaluate real"},
            {sv_evaluate(t, s1, NULL, NULL, NULL, NULL, NULL, NULL), "evaluate out"},
            {sv_tune(NULL, t, t, "y", NULL, NULL, NULL, NULL, NULL, NULL, &bb), "tune model"},
            {sv_tune(m, NULL, t, "y", NULL, NULL, NULL, NULL, NULL, NULL, &bb), "tune raw"},
            {sv_tune(m, t, t, "y", NULL, NULL, NULL, NULL, NULL, NULL, NULL), "tune out"},
            {sv_infer(with_null, 1, "x", N, &bb), "infer element"},
            {sv_infer((const sv_table *const *)&s1, 1, NULL, N, &bb), "infer target"},
            {sv_infer((const sv_table *const *)&s1, 1, "x", N, NULL), "infer out"},
        };
        for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
            CHECK(nulls[i].got == SV_E_NULL, "NULL %s: status %d", nulls[i].what, nulls[i].got);
        CHECK(tt == NULL && mm == NULL && bb == NULL, "no handle from a NULL argument");
    }

    /* Every handle is still usable after the failures above. */
    sv_table *s4 = NULL;
    OK(sv_sample(m, 10, 1, 1, NULL, NULL, NULL, &s4));
    sv_table_free(s4);

    sv_table_free(s1);
    sv_model_free(tuned);
    sv_model_free(clone);
    sv_model_free(fromb);
    sv_model_free(loaded);
    sv_model_free(m);
    sv_model_free(NULL);
    sv_table_free(t);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("abi_test: all checks passed\n");
    return 0;
}
