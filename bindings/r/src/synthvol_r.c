/*
 * The R package's glue over the C ABI (synthvol.h): it converts R vectors to and from the
 * library's tables, holds models and tables in external pointers with finalizers, relays
 * progress and Ctrl-C, and turns every failure into one R condition (class synthvol_error).
 * It decides nothing: every default and rule is the engine's.
 *
 * Safety rules kept throughout:
 * - No R error or interrupt ever long-jumps over library frames: R code called from a
 *   library callback (progress, the tuning analysis) runs under R_ToplevelExec, and its
 *   failure is turned into "stop" for the library; errors are raised only after the library
 *   call has returned.
 * - A handle is wrapped in a protected external pointer with a finalizer before anything that
 *   can raise an R error, so it is never leaked.
 */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Utils.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synthvol.h"

/* ---- errors ------------------------------------------------------------------------ */

/* Raises the R condition for a failed call (class synthvol_error, with the status). */
static void sv_r_fail(sv_status status) {
    SEXP msg = PROTECT(Rf_mkString(sv_last_error()));
    SEXP st = PROTECT(Rf_ScalarInteger(status));
    SEXP ns = PROTECT(R_FindNamespace(Rf_mkString("synthvol")));
    SEXP call = PROTECT(Rf_lang3(Rf_install("sv_raise"), msg, st));
    Rf_eval(call, ns);
    UNPROTECT(4); /* not reached: sv_raise signals an error */
}

#define SV_TRY(call)                       \
    do {                                   \
        sv_status sv_status_ = (call);     \
        if (sv_status_ != SV_OK) sv_r_fail(sv_status_); \
    } while (0)

/* ---- handles ------------------------------------------------------------------------ */

static void table_finalizer(SEXP xp) {
    sv_table_free((sv_table *)R_ExternalPtrAddr(xp));
    R_ClearExternalPtr(xp);
}

static void model_finalizer(SEXP xp) {
    sv_model_free((sv_model *)R_ExternalPtrAddr(xp));
    R_ClearExternalPtr(xp);
}

static void bytes_finalizer(SEXP xp) {
    sv_bytes_free((sv_bytes *)R_ExternalPtrAddr(xp));
    R_ClearExternalPtr(xp);
}

/* An empty external pointer with `fin` registered (the caller protects it). */
static SEXP new_handle(const char *tag, R_CFinalizer_t fin) {
    SEXP xp = R_MakeExternalPtr(NULL, Rf_install(tag), R_NilValue);
    PROTECT(xp);
    R_RegisterCFinalizerEx(xp, fin, TRUE);
    UNPROTECT(1);
    return xp;
}

static sv_model *model_of(SEXP xp) {
    if (TYPEOF(xp) != EXTPTRSXP) Rf_error("internal: not a model handle");
    sv_model *m = (sv_model *)R_ExternalPtrAddr(xp);
    if (m == NULL) Rf_error("internal: the model handle is empty (rebuild it from its bytes)");
    return m;
}

/* The library's bytes as an R string (JSON results). */
static SEXP bytes_to_string(SEXP bxp) {
    sv_bytes *b = (sv_bytes *)R_ExternalPtrAddr(bxp);
    SEXP s = PROTECT(Rf_allocVector(STRSXP, 1));
    SET_STRING_ELT(s, 0, Rf_mkCharLenCE((const char *)sv_bytes_data(b), (int)sv_bytes_len(b), CE_UTF8));
    UNPROTECT(1);
    return s;
}

static const char *opt_string(SEXP s) {
    if (s == R_NilValue) return NULL;
    if (TYPEOF(s) != STRSXP || XLENGTH(s) != 1 || STRING_ELT(s, 0) == NA_STRING)
        Rf_error("internal: expected one string");
    return Rf_translateCharUTF8(STRING_ELT(s, 0));
}

/* ---- log messages ----------------------------------------------------------------- */

/* Notices of the last call (for example levels a fine-tuning added), shown by R afterwards. */
static char *log_buffer = NULL;
static size_t log_len = 0;

static void on_log(void *user, int32_t level, const char *message) {
    (void)user;
    (void)level;
    size_t n = strlen(message);
    char *grown = realloc(log_buffer, log_len + n + 2);
    if (!grown) return;
    log_buffer = grown;
    memcpy(log_buffer + log_len, message, n);
    log_len += n;
    log_buffer[log_len++] = '\n';
    log_buffer[log_len] = 0;
}

static void log_clear(void) { log_len = 0; }

/* The notices collected since log_clear, as a character vector. */
static SEXP log_take(void) {
    int count = 0;
    for (size_t i = 0; i < log_len; i++) count += log_buffer[i] == '\n';
    SEXP out = PROTECT(Rf_allocVector(STRSXP, count));
    size_t start = 0;
    int k = 0;
    for (size_t i = 0; i < log_len; i++) {
        if (log_buffer[i] == '\n') {
            SET_STRING_ELT(out, k++, Rf_mkCharLenCE(log_buffer + start, (int)(i - start), CE_UTF8));
            start = i + 1;
        }
    }
    log_len = 0;
    UNPROTECT(1);
    return out;
}

/* ---- progress and interrupts ---------------------------------------------------- */

typedef struct {
    SEXP fn; /* an R function(stage, done, total, loss), or R_NilValue */
    int interrupted;
    int failed;
    double last;
    const char *stage;
    uint64_t done, total;
    double loss;
    char message[512];
} progress_ctx;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check_interrupt(void *unused) {
    (void)unused;
    R_CheckUserInterrupt();
}

/* Calls synthvol:::guarded(fn, stage, done, total, loss): NULL, or the error's message. */
static void call_progress(void *data) {
    progress_ctx *c = data;
    SEXP ns = PROTECT(R_FindNamespace(Rf_mkString("synthvol")));
    SEXP args = PROTECT(Rf_lang6(Rf_install("guarded"), c->fn, Rf_mkString(c->stage),
                                 Rf_ScalarReal((double)c->done), Rf_ScalarReal((double)c->total),
                                 Rf_ScalarReal(c->loss)));
    SEXP r = Rf_eval(args, ns);
    if (r != R_NilValue) {
        snprintf(c->message, sizeof c->message, "%s", Rf_translateCharUTF8(STRING_ELT(r, 0)));
        c->failed = 1;
    }
    UNPROTECT(2);
}

/* The library's progress callback: Ctrl-C and a failing R progress function stop the call
 * (the library then returns SV_E_CANCELLED); nothing long-jumps over the library. */
static int32_t on_progress(void *user, const char *stage, uint64_t done, uint64_t total, double loss) {
    progress_ctx *c = user;
    if (!R_ToplevelExec(check_interrupt, NULL)) {
        c->interrupted = 1;
        return 1;
    }
    if (c->fn != R_NilValue) {
        double t = now_seconds();
        if (done == total || t - c->last >= 0.1) {
            c->last = t;
            c->stage = stage;
            c->done = done;
            c->total = total;
            c->loss = loss;
            if (!R_ToplevelExec(call_progress, c)) c->interrupted = 1;
            if (c->failed || c->interrupted) return 1;
        }
    }
    return 0;
}

static progress_ctx progress_for(SEXP fn) {
    progress_ctx c;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.last = -1e9;
    return c;
}

/* After a call that used `c`: an interrupt becomes R's interrupt, a failed progress
 * function an error, any other failure the library's error. */
static void raise_interrupt(void) {
    SEXP ns = PROTECT(R_FindNamespace(Rf_mkString("synthvol")));
    SEXP call = PROTECT(Rf_lang1(Rf_install("sv_interrupted")));
    Rf_eval(call, ns);
    UNPROTECT(2);
}

static void settle(sv_status status, const progress_ctx *c) {
    if (status == SV_OK) return;
    if (status == SV_E_CANCELLED && c->interrupted) raise_interrupt();
    if (status == SV_E_CANCELLED && c->failed)
        Rf_error("the progress function failed, so the call was stopped: %s", c->message);
    sv_r_fail(status);
}

/* ---- tables ------------------------------------------------------------------------ */

/* A library table from an R list of columns, each list(name, values, kind = "numeric" |
 * "categorical", integer (numeric), levels (categorical: codes 1..k, NA missing)). Returns a
 * protected-by-caller external pointer. */
static SEXP table_from_columns(SEXP cols) {
    SEXP xp = PROTECT(new_handle("sv_table", table_finalizer));
    sv_table *t = NULL;
    SV_TRY(sv_table_new(&t));
    R_SetExternalPtrAddr(xp, t);
    R_xlen_t ncol = XLENGTH(cols);
    for (R_xlen_t j = 0; j < ncol; j++) {
        SEXP col = VECTOR_ELT(cols, j);
        const char *name = Rf_translateCharUTF8(STRING_ELT(VECTOR_ELT(col, 0), 0));
        SEXP values = VECTOR_ELT(col, 1);
        const char *kind = CHAR(STRING_ELT(VECTOR_ELT(col, 2), 0));
        if (strcmp(kind, "numeric") == 0) {
            int integer = LOGICAL(VECTOR_ELT(col, 3))[0];
            SV_TRY(sv_table_add_numeric(t, name, REAL(values), (size_t)XLENGTH(values), integer));
        } else {
            SEXP levels = VECTOR_ELT(col, 4);
            R_xlen_t k = XLENGTH(levels);
            const char **labels = (const char **)R_alloc((size_t)(k > 0 ? k : 1), sizeof(char *));
            for (R_xlen_t i = 0; i < k; i++) labels[i] = Rf_translateCharUTF8(STRING_ELT(levels, i));
            SV_TRY(sv_table_add_categorical(t, name, INTEGER(values), (size_t)XLENGTH(values), 1,
                                            NA_INTEGER, labels, (size_t)k));
        }
    }
    UNPROTECT(1);
    return xp;
}

/* An R list of a table's columns: numeric ones as doubles (attribute "integer"), categorical
 * ones as integer codes 1..k (NA missing) with attribute "levels"; names set. */
static SEXP columns_of(const sv_table *t) {
    size_t nrow = 0, ncol = 0;
    SV_TRY(sv_table_n_rows(t, &nrow));
    SV_TRY(sv_table_n_cols(t, &ncol));
    SEXP out = PROTECT(Rf_allocVector(VECSXP, (R_xlen_t)ncol));
    SEXP names = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)ncol));
    for (size_t j = 0; j < ncol; j++) {
        size_t need = 0;
        SV_TRY(sv_table_column_name(t, j, NULL, 0, &need));
        char *buf = R_alloc(need, 1);
        SV_TRY(sv_table_column_name(t, j, buf, need, NULL));
        SET_STRING_ELT(names, (R_xlen_t)j, Rf_mkCharCE(buf, CE_UTF8));
        int32_t kind = 0, integer = 0;
        SV_TRY(sv_table_column_kind(t, j, &kind, &integer));
        SEXP v;
        if (kind == SV_NUMERIC) {
            v = PROTECT(Rf_allocVector(REALSXP, (R_xlen_t)nrow));
            SV_TRY(sv_table_get_numeric(t, j, REAL(v), nrow));
            Rf_setAttrib(v, Rf_install("integer"), Rf_ScalarLogical(integer != 0));
        } else {
            v = PROTECT(Rf_allocVector(INTSXP, (R_xlen_t)nrow));
            SV_TRY(sv_table_get_categorical(t, j, INTEGER(v), nrow, 1, NA_INTEGER));
            size_t k = 0;
            SV_TRY(sv_table_n_levels(t, j, &k));
            SEXP lv = PROTECT(Rf_allocVector(STRSXP, (R_xlen_t)k));
            for (size_t l = 0; l < k; l++) {
                size_t n2 = 0;
                SV_TRY(sv_table_level(t, j, l, NULL, 0, &n2));
                char *lb = R_alloc(n2, 1);
                SV_TRY(sv_table_level(t, j, l, lb, n2, NULL));
                SET_STRING_ELT(lv, (R_xlen_t)l, Rf_mkCharCE(lb, CE_UTF8));
            }
            Rf_setAttrib(v, Rf_install("levels"), lv);
            UNPROTECT(1);
        }
        SET_VECTOR_ELT(out, (R_xlen_t)j, v);
        UNPROTECT(1);
    }
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

/* ---- the entry points ----------------------------------------------------------- */

static SEXP C_abi_version(void) {
    return Rf_ScalarInteger((int)sv_abi_version());
}

static SEXP C_header_abi_version(void) {
    return Rf_ScalarInteger(SV_ABI_VERSION);
}

static SEXP C_version(void) {
    return Rf_mkString(sv_version());
}

static SEXP C_fit_options_json(sv_fit_options *o, SEXP json) {
    sv_fit_options_init(o);
    o->extra_json = opt_string(json);
    return R_NilValue;
}

static SEXP C_fit(SEXP cols, SEXP request_json, SEXP progress) {
    SEXP table = PROTECT(table_from_columns(cols));
    SEXP xp = PROTECT(new_handle("sv_model", model_finalizer));
    sv_fit_options o;
    C_fit_options_json(&o, request_json);
    progress_ctx c = progress_for(progress);
    sv_model *m = NULL;
    log_clear();
    sv_status s = sv_fit((sv_table *)R_ExternalPtrAddr(table), &o, on_progress, &c, NULL, &m);
    settle(s, &c);
    R_SetExternalPtrAddr(xp, m);
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(out, 0, xp);
    SET_VECTOR_ELT(out, 1, log_take());
    UNPROTECT(3);
    return out;
}

static SEXP C_fine_tune(SEXP model, SEXP cols, SEXP request_json, SEXP progress) {
    sv_model *pre = model_of(model);
    SEXP table = PROTECT(table_from_columns(cols));
    SEXP xp = PROTECT(new_handle("sv_model", model_finalizer));
    sv_fit_options o;
    C_fit_options_json(&o, request_json);
    progress_ctx c = progress_for(progress);
    sv_model *m = NULL;
    log_clear();
    sv_status s = sv_fine_tune(pre, (sv_table *)R_ExternalPtrAddr(table), &o, on_progress, &c, NULL, &m);
    settle(s, &c);
    R_SetExternalPtrAddr(xp, m);
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(out, 0, xp);
    SET_VECTOR_ELT(out, 1, log_take());
    UNPROTECT(3);
    return out;
}

/* A row number or count from R (a whole, non-negative double below 2^53). */
static uint64_t as_u64(SEXP v, const char *what) {
    double d = Rf_asReal(v);
    if (!R_FINITE(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
        Rf_error("'%s' must be a whole number from 0 to 2^53, got %g", what, d);
    return (uint64_t)d;
}

static SEXP C_sample(SEXP model, SEXP start, SEXP count, SEXP seed, SEXP options_json, SEXP progress) {
    sv_model *m = model_of(model);
    uint64_t n = as_u64(count, "n");
    if ((double)n > (double)SIZE_MAX) Rf_error("'n' is too large");
    SEXP xp = PROTECT(new_handle("sv_table", table_finalizer));
    progress_ctx c = progress_for(progress);
    sv_table *t = NULL;
    sv_status s = sv_sample_range(m, as_u64(seed, "seed"), as_u64(start, "start"), (size_t)n,
                                  opt_string(options_json), on_progress, &c, NULL, &t);
    settle(s, &c);
    R_SetExternalPtrAddr(xp, t);
    SEXP out = columns_of(t);
    UNPROTECT(1);
    return out;
}

static SEXP C_model_to_bytes(SEXP model) {
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    SV_TRY(sv_model_to_bytes(model_of(model), &b));
    R_SetExternalPtrAddr(bxp, b);
    size_t n = sv_bytes_len(b);
    SEXP raw = PROTECT(Rf_allocVector(RAWSXP, (R_xlen_t)n));
    if (n) memcpy(RAW(raw), sv_bytes_data(b), n);
    UNPROTECT(2);
    return raw;
}

/* A new model handle from bytes; with `into` an existing, emptied handle (a model read by
 * readRDS), that handle is filled instead. */
static SEXP C_model_from_bytes(SEXP raw, SEXP into) {
    if (TYPEOF(raw) != RAWSXP) Rf_error("the model's bytes must be a raw vector");
    SEXP xp = into;
    if (into == R_NilValue) {
        xp = PROTECT(new_handle("sv_model", model_finalizer));
    } else {
        PROTECT(xp);
        if (R_ExternalPtrAddr(xp) != NULL) {
            UNPROTECT(1);
            return xp;
        }
        R_RegisterCFinalizerEx(xp, model_finalizer, TRUE);
    }
    sv_model *m = NULL;
    SV_TRY(sv_model_from_bytes(XLENGTH(raw) ? RAW(raw) : (const uint8_t *)"", (size_t)XLENGTH(raw), &m));
    R_SetExternalPtrAddr(xp, m);
    UNPROTECT(1);
    return xp;
}

static SEXP C_model_is_null(SEXP xp) {
    return Rf_ScalarLogical(TYPEOF(xp) != EXTPTRSXP || R_ExternalPtrAddr(xp) == NULL);
}

static SEXP C_model_save(SEXP model, SEXP path) {
    SV_TRY(sv_model_save(model_of(model), opt_string(path)));
    return R_NilValue;
}

static SEXP C_model_load(SEXP path) {
    SEXP xp = PROTECT(new_handle("sv_model", model_finalizer));
    sv_model *m = NULL;
    SV_TRY(sv_model_load(opt_string(path), &m));
    R_SetExternalPtrAddr(xp, m);
    UNPROTECT(1);
    return xp;
}

static SEXP json_result(sv_status s, sv_bytes *b, SEXP bxp, const progress_ctx *c) {
    if (c) {
        settle(s, c);
    } else if (s != SV_OK) {
        sv_r_fail(s);
    }
    R_SetExternalPtrAddr(bxp, b);
    return bytes_to_string(bxp);
}

static SEXP C_model_info(SEXP model) {
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    sv_status st_ = sv_model_info_json(model_of(model), &b);
    SEXP out = json_result(st_, b, bxp, NULL);
    UNPROTECT(1);
    return out;
}

static SEXP C_model_privacy(SEXP model) {
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    sv_status st_ = sv_model_privacy_json(model_of(model), &b);
    SEXP out = json_result(st_, b, bxp, NULL);
    UNPROTECT(1);
    return out;
}

static SEXP C_evaluate(SEXP real, SEXP syn, SEXP holdout, SEXP options_json, SEXP progress) {
    SEXP r = PROTECT(table_from_columns(real));
    SEXP s = PROTECT(table_from_columns(syn));
    SEXP h = PROTECT(holdout == R_NilValue ? R_NilValue : table_from_columns(holdout));
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    progress_ctx c = progress_for(progress);
    sv_bytes *b = NULL;
    sv_status st = sv_evaluate((sv_table *)R_ExternalPtrAddr(r), (sv_table *)R_ExternalPtrAddr(s),
                               h == R_NilValue ? NULL : (sv_table *)R_ExternalPtrAddr(h),
                               opt_string(options_json), on_progress, &c, NULL, &b);
    SEXP out = json_result(st, b, bxp, &c);
    UNPROTECT(4);
    return out;
}

/* The tuning analysis: an R function(train, valid) -> error, called with data frames. */
typedef struct {
    SEXP fn;       /* the user's function */
    SEXP convert;  /* synthvol's function(columns) -> data.frame, with the model's classes */
    const sv_table *train, *valid;
    double error;
    int failed, interrupted;
    char message[1024];
} analysis_ctx;

/* Calls synthvol:::guarded_analysis: the error (a number) or a failure's message. */
static void call_analysis(void *data) {
    analysis_ctx *a = data;
    SEXP tr = PROTECT(columns_of(a->train));
    SEXP va = PROTECT(columns_of(a->valid));
    SEXP ns = PROTECT(R_FindNamespace(Rf_mkString("synthvol")));
    SEXP call = PROTECT(Rf_lang5(Rf_install("guarded_analysis"), a->fn, a->convert, tr, va));
    SEXP e = PROTECT(Rf_eval(call, ns));
    if (TYPEOF(e) == STRSXP) {
        snprintf(a->message, sizeof a->message, "%s", Rf_translateCharUTF8(STRING_ELT(e, 0)));
        a->failed = 1;
    } else {
        a->error = Rf_asReal(e);
    }
    UNPROTECT(5);
}

static int32_t on_analysis(void *user, const sv_table *train, const sv_table *valid, double *error) {
    analysis_ctx *a = user;
    a->train = train;
    a->valid = valid;
    if (!R_ToplevelExec(call_analysis, a)) {
        a->interrupted = 1;
        return 1;
    }
    if (a->failed) return 1;
    *error = a->error;
    return 0;
}

static SEXP C_tune(SEXP model, SEXP raw, SEXP valid, SEXP target, SEXP options_json, SEXP analysis,
                   SEXP convert, SEXP progress) {
    sv_model *m = model_of(model);
    SEXP r = PROTECT(table_from_columns(raw));
    SEXP v = PROTECT(table_from_columns(valid));
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    progress_ctx c = progress_for(progress);
    analysis_ctx a;
    memset(&a, 0, sizeof a);
    a.fn = analysis;
    a.convert = convert;
    sv_bytes *b = NULL;
    sv_status st = sv_tune(m, (sv_table *)R_ExternalPtrAddr(r), (sv_table *)R_ExternalPtrAddr(v),
                           opt_string(target), opt_string(options_json),
                           analysis == R_NilValue ? NULL : on_analysis, &a, on_progress, &c, NULL, &b);
    if (st != SV_OK && a.interrupted) raise_interrupt();
    if (st != SV_OK && a.failed) Rf_error("the analysis function failed: %s", a.message);
    SEXP out = json_result(st, b, bxp, &c);
    UNPROTECT(3);
    return out;
}

static SEXP C_infer(SEXP tables, SEXP target, SEXP real_rows) {
    R_xlen_t k = XLENGTH(tables);
    SEXP held = PROTECT(Rf_allocVector(VECSXP, k));
    const sv_table **ptrs = (const sv_table **)R_alloc((size_t)(k > 0 ? k : 1), sizeof(sv_table *));
    for (R_xlen_t i = 0; i < k; i++) {
        SET_VECTOR_ELT(held, i, table_from_columns(VECTOR_ELT(tables, i)));
        ptrs[i] = (const sv_table *)R_ExternalPtrAddr(VECTOR_ELT(held, i));
    }
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    sv_status st_ = sv_infer(ptrs, (size_t)k, opt_string(target), (size_t)as_u64(real_rows, "real_rows"), &b);
    SEXP out = json_result(st_, b, bxp, NULL);
    UNPROTECT(2);
    return out;
}

static SEXP C_syn_test(SEXP model, SEXP data, SEXP train, SEXP request_json, SEXP progress) {
    sv_model *m = model_of(model);
    SEXP d = PROTECT(table_from_columns(data));
    SEXP t = PROTECT(train == R_NilValue ? R_NilValue : table_from_columns(train));
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    progress_ctx c = progress_for(progress);
    sv_bytes *b = NULL;
    sv_status st = sv_syn_test(m, (sv_table *)R_ExternalPtrAddr(d),
                               t == R_NilValue ? NULL : (sv_table *)R_ExternalPtrAddr(t),
                               opt_string(request_json), on_progress, &c, NULL, &b);
    SEXP out = json_result(st, b, bxp, &c);
    UNPROTECT(3);
    return out;
}

static SEXP C_table_schema(SEXP cols) {
    SEXP t = PROTECT(table_from_columns(cols));
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    sv_status st_ = sv_table_schema_json((sv_table *)R_ExternalPtrAddr(t), &b);
    SEXP out = json_result(st_, b, bxp, NULL);
    UNPROTECT(2);
    return out;
}

static SEXP C_roundtrip(SEXP cols) {
    SEXP t = PROTECT(table_from_columns(cols));
    SEXP out = columns_of((sv_table *)R_ExternalPtrAddr(t));
    UNPROTECT(1);
    return out;
}

static SEXP C_dataset(SEXP name) {
    SEXP xp = PROTECT(new_handle("sv_table", table_finalizer));
    sv_table *t = NULL;
    SV_TRY(sv_dataset(opt_string(name), &t));
    R_SetExternalPtrAddr(xp, t);
    SEXP out = columns_of(t);
    UNPROTECT(1);
    return out;
}

static SEXP C_dataset_schema(SEXP name) {
    SEXP bxp = PROTECT(new_handle("sv_bytes", bytes_finalizer));
    sv_bytes *b = NULL;
    sv_status st_ = sv_dataset_schema_json(opt_string(name), &b);
    SEXP out = json_result(st_, b, bxp, NULL);
    UNPROTECT(1);
    return out;
}

static SEXP C_privacy_epsilon(SEXP q, SEXP sigma, SEXP steps, SEXP delta) {
    double eps = 0;
    SV_TRY(sv_privacy_epsilon(Rf_asReal(q), Rf_asReal(sigma), as_u64(steps, "steps"), Rf_asReal(delta), &eps));
    return Rf_ScalarReal(eps);
}

static SEXP C_shard_range(SEXP rows, SEXP i, SEXP k) {
    uint64_t start = 0, count = 0;
    SV_TRY(sv_shard_range(as_u64(rows, "rows"), as_u64(i, "i"), as_u64(k, "k"), &start, &count));
    SEXP out = PROTECT(Rf_allocVector(REALSXP, 2));
    REAL(out)[0] = (double)start;
    REAL(out)[1] = (double)count;
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(nm, 0, Rf_mkChar("start"));
    SET_STRING_ELT(nm, 1, Rf_mkChar("count"));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(2);
    return out;
}

static const R_CallMethodDef call_methods[] = {
    {"C_shard_range", (DL_FUNC)&C_shard_range, 3},
    {"C_abi_version", (DL_FUNC)&C_abi_version, 0},
    {"C_header_abi_version", (DL_FUNC)&C_header_abi_version, 0},
    {"C_version", (DL_FUNC)&C_version, 0},
    {"C_fit", (DL_FUNC)&C_fit, 3},
    {"C_fine_tune", (DL_FUNC)&C_fine_tune, 4},
    {"C_sample", (DL_FUNC)&C_sample, 6},
    {"C_model_to_bytes", (DL_FUNC)&C_model_to_bytes, 1},
    {"C_model_from_bytes", (DL_FUNC)&C_model_from_bytes, 2},
    {"C_model_is_null", (DL_FUNC)&C_model_is_null, 1},
    {"C_model_save", (DL_FUNC)&C_model_save, 2},
    {"C_model_load", (DL_FUNC)&C_model_load, 1},
    {"C_model_info", (DL_FUNC)&C_model_info, 1},
    {"C_model_privacy", (DL_FUNC)&C_model_privacy, 1},
    {"C_evaluate", (DL_FUNC)&C_evaluate, 5},
    {"C_tune", (DL_FUNC)&C_tune, 8},
    {"C_infer", (DL_FUNC)&C_infer, 3},
    {"C_syn_test", (DL_FUNC)&C_syn_test, 5},
    {"C_table_schema", (DL_FUNC)&C_table_schema, 1},
    {"C_roundtrip", (DL_FUNC)&C_roundtrip, 1},
    {"C_dataset", (DL_FUNC)&C_dataset, 1},
    {"C_dataset_schema", (DL_FUNC)&C_dataset_schema, 1},
    {"C_privacy_epsilon", (DL_FUNC)&C_privacy_epsilon, 4},
    {NULL, NULL, 0}};

void R_init_synthvol(DllInfo *dll) {
    R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
    sv_set_log_callback(on_log, SV_LOG_INFO, NULL);
}

void R_unload_synthvol(DllInfo *dll) {
    (void)dll;
    sv_set_log_callback(NULL, SV_LOG_INFO, NULL);
    free(log_buffer);
    log_buffer = NULL;
    log_len = 0;
}
