// synthvol.hpp: a header-only C++17 wrapper over the C ABI (include/synthvol.h).
//
// Handles are move-only RAII objects; failures throw synthvol::error carrying the status and
// the library's message; progress callbacks are std::function, and an exception thrown by one
// stops the call and is rethrown to the caller (it never crosses into the library).
// Installed with synthvol's CMake package (target synthvol::synthvol or synthvol::static) or
// found with pkg-config (synthvol.pc); see README.md, "Using the library from C and C++".
#ifndef SYNTHVOL_HPP
#define SYNTHVOL_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synthvol.h"

namespace synthvol {

/// A failed call: the status code (SV_E_*) and the library's message.
class error : public std::runtime_error {
 public:
  error(sv_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  sv_status status() const noexcept { return status_; }

 private:
  sv_status status_;
};

namespace detail {
inline void check(sv_status s) {
  if (s != SV_OK) throw error(s, sv_last_error());
}

/// The string as a C string; a NUL inside it would silently cut it short, so it throws.
inline const char* cstr(const std::string& s, const char* what) {
  auto at = s.find('\0');
  if (at != std::string::npos)
    throw error(SV_E_INVALID_ARGUMENT, std::string(what) + " contains a NUL character at byte " +
                                           std::to_string(at) + "; C strings cannot hold it");
  return s.c_str();
}
}  // namespace detail

/// Throws unless the library was built for this header's ABI (SV_ABI_VERSION).
inline void check_abi() {
  if (sv_abi_version() != SV_ABI_VERSION)
    throw error(SV_E_INVALID_ARGUMENT,
                "libsynthvol has C ABI " + std::to_string(sv_abi_version()) + " but this program was built against ABI " +
                    std::to_string(SV_ABI_VERSION) + ": rebuild it against the installed header, or install the matching library");
}

namespace detail {
/// check_abi() once, on the wrapper's first use (every way into the library starts with a
/// table, a model, a cancel token or a free function, each of which calls this first).
inline void ensure_abi() {
  static const bool ok = sv_abi_version() == SV_ABI_VERSION;
  if (!ok) check_abi();
}
}  // namespace detail

inline std::string version() { return sv_version(); }

/// A read-only view of contiguous values (std::span for C++17): from a std::vector, a C array
/// or a pointer and a length.
template <typename T>
class span {
 public:
  span() = default;
  span(const T* data, std::size_t size) : data_(data), size_(size) {}
  span(const std::vector<T>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT
  template <std::size_t N>
  span(const T (&a)[N]) : data_(a), size_(N) {}  // NOLINT
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const T* data_ = nullptr;
  std::size_t size_ = 0;
};

/// What a progress callback sees.
struct progress {
  std::string_view stage;  // "train", "sample", "evaluate"
  std::uint64_t done;
  std::uint64_t total;
  double loss;  // NaN when there is none
};
/// Return false to stop the call (it then throws synthvol::error with SV_E_CANCELLED).
using progress_fn = std::function<bool(const progress&)>;

/// Stops calls from another thread: pass it to a call, then request() from anywhere.
class cancel_token {
 public:
  cancel_token() {
    detail::ensure_abi();
    detail::check(sv_cancel_new(&h_));
  }
  ~cancel_token() { sv_cancel_free(h_); }
  cancel_token(const cancel_token&) = delete;
  cancel_token& operator=(const cancel_token&) = delete;
  void request() const noexcept { sv_cancel_request(h_); }
  const sv_cancel* get() const noexcept { return h_; }

 private:
  sv_cancel* h_ = nullptr;
};

namespace detail {
// Carries a std::function into the C callback and an exception back out of it.
struct progress_ctx {
  const progress_fn* fn;
  std::exception_ptr thrown;
};
extern "C" inline int32_t progress_trampoline(void* user, const char* stage, std::uint64_t done,
                                             std::uint64_t total, double loss) {
  auto* ctx = static_cast<progress_ctx*>(user);
  try {
    return (*ctx->fn)(progress{stage, done, total, loss}) ? 0 : 1;
  } catch (...) {
    ctx->thrown = std::current_exception();
    return 1;  // stop the call; the exception is rethrown after it returns
  }
}
// Runs `call(callback, user)` with the adapter and rethrows what the callback threw.
template <typename F>
void with_progress(const progress_fn& fn, F&& call) {
  progress_ctx ctx{&fn, nullptr};
  sv_status s = fn ? call(&progress_trampoline, &ctx) : call(nullptr, nullptr);
  if (ctx.thrown) std::rethrow_exception(ctx.thrown);
  check(s);
}
}  // namespace detail

/// Owned bytes from the library.
class bytes {
 public:
  explicit bytes(sv_bytes* h) noexcept : h_(h) {}
  ~bytes() { sv_bytes_free(h_); }
  bytes(bytes&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  bytes& operator=(bytes&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  bytes(const bytes&) = delete;
  bytes& operator=(const bytes&) = delete;
  const std::uint8_t* data() const noexcept { return sv_bytes_data(h_); }
  std::size_t size() const noexcept { return sv_bytes_len(h_); }
  std::string str() const { return std::string(reinterpret_cast<const char*>(data()), size()); }
  std::vector<std::uint8_t> vec() const { return std::vector<std::uint8_t>(data(), data() + size()); }

 private:
  sv_bytes* h_;
};

/// A non-owning view of a table: the read methods. A `table` is one; a callback's borrowed
/// table arrives as one (valid during the callback only).
class table_view {
 public:
  explicit table_view(const sv_table* h) noexcept : h_(h) {}
  std::size_t rows() const {
    std::size_t n = 0;
    detail::check(sv_table_n_rows(h_, &n));
    return n;
  }
  std::size_t cols() const {
    std::size_t n = 0;
    detail::check(sv_table_n_cols(h_, &n));
    return n;
  }
  std::string name(std::size_t col) const {
    std::size_t need = 0;
    detail::check(sv_table_column_name(h_, col, nullptr, 0, &need));
    std::string s(need, '\0');
    detail::check(sv_table_column_name(h_, col, s.data(), need, nullptr));
    s.pop_back();
    return s;
  }
  bool is_numeric(std::size_t col) const {
    std::int32_t kind = 0;
    detail::check(sv_table_column_kind(h_, col, &kind, nullptr));
    return kind == SV_NUMERIC;
  }
  std::vector<std::string> levels(std::size_t col) const {
    std::size_t n = 0;
    detail::check(sv_table_n_levels(h_, col, &n));
    std::vector<std::string> out;
    for (std::size_t k = 0; k < n; k++) {
      std::size_t need = 0;
      detail::check(sv_table_level(h_, col, k, nullptr, 0, &need));
      std::string s(need, '\0');
      detail::check(sv_table_level(h_, col, k, s.data(), need, nullptr));
      s.pop_back();
      out.push_back(std::move(s));
    }
    return out;
  }
  std::vector<double> numeric(std::size_t col) const {
    std::vector<double> v(rows());
    detail::check(sv_table_get_numeric(h_, col, v.data(), v.size()));
    return v;
  }
  std::vector<std::int32_t> codes(std::size_t col, std::int32_t code_base = 0,
                                  std::int32_t na_code = -1) const {
    std::vector<std::int32_t> v(rows());
    detail::check(sv_table_get_categorical(h_, col, v.data(), v.size(), code_base, na_code));
    return v;
  }
  void write_csv(const std::string& path) const { detail::check(sv_table_write_csv(h_, detail::cstr(path, "path"))); }
  const sv_table* get() const noexcept { return h_; }

 protected:
  const sv_table* h_ = nullptr;
};

/// A table of named numeric and categorical columns (owning).
class table : public table_view {
 public:
  /// An empty table; add columns with add_numeric / add_categorical.
  table() : table_view(nullptr) {
    detail::ensure_abi();
    sv_table* h = nullptr;
    detail::check(sv_table_new(&h));
    h_ = h;
  }
  explicit table(sv_table* h) noexcept : table_view(h) {}
  ~table() { sv_table_free(mut()); }
  table(table&& o) noexcept : table_view(std::exchange(o.h_, nullptr)) {}
  table& operator=(table&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  table(const table&) = delete;
  table& operator=(const table&) = delete;

  static table read_csv(const std::string& path) {
    detail::ensure_abi();
    sv_table* h = nullptr;
    detail::check(sv_table_read_csv(detail::cstr(path, "path"), &h));
    return table(h);
  }

  /// NaN is missing.
  table& add_numeric(const std::string& name, span<double> values, bool integer = false) {
    detail::check(sv_table_add_numeric(mut(), detail::cstr(name, "the column name"), values.data(), values.size(), integer ? 1 : 0));
    return *this;
  }
  /// Code c stands for levels[c - code_base]; na_code for missing.
  table& add_categorical(const std::string& name, span<std::int32_t> codes,
                         const std::vector<std::string>& levels, std::int32_t code_base = 0,
                         std::int32_t na_code = -1) {
    std::vector<const char*> ptrs;
    ptrs.reserve(levels.size());
    for (const auto& l : levels) ptrs.push_back(detail::cstr(l, "a level label"));
    detail::check(sv_table_add_categorical(mut(), detail::cstr(name, "the column name"), codes.data(), codes.size(), code_base,
                                           na_code, ptrs.data(), ptrs.size()));
    return *this;
  }

 private:
  // The handle this object owns (created by the library as mutable).
  sv_table* mut() const noexcept { return const_cast<sv_table*>(h_); }
};

/// Options of fit and fine_tune: 0 (or empty) takes the engine's default, and the engine
/// checks every value (see sv_fit_options; other options go in extra_json).
struct fit_options {
  std::optional<std::string> target;
  std::uint64_t steps = 0;
  std::uint64_t batch_size = 0;
  double learning_rate = 0.0;
  std::uint64_t seed = 0;
  std::uint32_t threads = 0;
  double epsilon = 0.0;  // > 0: differentially private
  double delta = 0.0;    // 0: the engine's default (1e-5)
  std::optional<std::string> schema_json;
  std::optional<std::string> extra_json;

  sv_fit_options c() const {
    sv_fit_options o;
    detail::check(sv_fit_options_init(&o));
    o.target = target ? detail::cstr(*target, "target") : nullptr;
    o.steps = steps;
    o.batch_size = batch_size;
    o.learning_rate = learning_rate;
    o.seed = seed;
    o.threads = threads;
    o.epsilon = epsilon;
    o.delta = delta;
    o.schema_json = schema_json ? detail::cstr(*schema_json, "schema_json") : nullptr;
    o.extra_json = extra_json ? detail::cstr(*extra_json, "extra_json") : nullptr;
    return o;
  }
};

/// A fitted model (immutable; sample from several threads at once if you like).
class model {
 public:
  explicit model(sv_model* h) noexcept : h_(h) {}
  ~model() { sv_model_free(h_); }
  model(model&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  model& operator=(model&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  model(const model&) = delete;
  model& operator=(const model&) = delete;

  static model fit(const table& data, const fit_options& opts, const progress_fn& progress = {},
                   const cancel_token* cancel = nullptr) {
    sv_fit_options o = opts.c();
    sv_model* h = nullptr;
    detail::with_progress(progress, [&](sv_progress_fn cb, void* user) {
      return sv_fit(data.get(), &o, cb, user, cancel ? cancel->get() : nullptr, &h);
    });
    return model(h);
  }
  model fine_tune(const table& data, const fit_options& opts, const progress_fn& progress = {},
                  const cancel_token* cancel = nullptr) const {
    sv_fit_options o = opts.c();
    sv_model* h = nullptr;
    detail::with_progress(progress, [&](sv_progress_fn cb, void* user) {
      return sv_fine_tune(h_, data.get(), &o, cb, user, cancel ? cancel->get() : nullptr, &h);
    });
    return model(h);
  }
  table sample(std::size_t n, std::uint64_t seed, std::uint32_t threads = 0,
               const progress_fn& progress = {}, const cancel_token* cancel = nullptr) const {
    sv_table* h = nullptr;
    detail::with_progress(progress, [&](sv_progress_fn cb, void* user) {
      return sv_sample(h_, n, seed, threads, cb, user, cancel ? cancel->get() : nullptr, &h);
    });
    return table(h);
  }
  void save(const std::string& path) const { detail::check(sv_model_save(h_, detail::cstr(path, "path"))); }
  static model load(const std::string& path) {
    detail::ensure_abi();
    sv_model* h = nullptr;
    detail::check(sv_model_load(detail::cstr(path, "path"), &h));
    return model(h);
  }
  std::vector<std::uint8_t> to_bytes() const {
    sv_bytes* b = nullptr;
    detail::check(sv_model_to_bytes(h_, &b));
    return bytes(b).vec();
  }
  static model from_bytes(span<std::uint8_t> data) {
    detail::ensure_abi();
    sv_model* h = nullptr;
    detail::check(sv_model_from_bytes(data.data(), data.size(), &h));
    return model(h);
  }
  /// A second handle to the same model.
  model clone() const {
    sv_model* h = nullptr;
    detail::check(sv_model_clone(h_, &h));
    return model(h);
  }
  std::string info_json() const {
    sv_bytes* b = nullptr;
    detail::check(sv_model_info_json(h_, &b));
    return bytes(b).str();
  }
  std::string privacy_json() const {
    sv_bytes* b = nullptr;
    detail::check(sv_model_privacy_json(h_, &b));
    return bytes(b).str();
  }
  const sv_model* get() const noexcept { return h_; }

 private:
  sv_model* h_ = nullptr;
};

/// The evaluation report as JSON (see docs/evaluation.md); holdout may be null.
inline std::string evaluate(const table& real, const table& synthetic, const table* holdout = nullptr,
                            const std::string& options_json = "", const progress_fn& progress = {}) {
  sv_bytes* b = nullptr;
  detail::with_progress(progress, [&](sv_progress_fn cb, void* user) {
    return sv_evaluate(real.get(), synthetic.get(), holdout ? holdout->get() : nullptr,
                       options_json.empty() ? nullptr : detail::cstr(options_json, "options_json"), cb, user, nullptr, &b);
  });
  return bytes(b).str();
}

/// An analysis for tune(): train on the first table, return the error on the second.
using analysis_fn = std::function<double(const table_view& train, const table_view& valid)>;

namespace detail {
struct analysis_ctx {
  const analysis_fn* fn;
  std::exception_ptr thrown;
};
extern "C" inline int32_t analysis_trampoline(void* user, const sv_table* train, const sv_table* valid,
                                             double* error) {
  auto* ctx = static_cast<analysis_ctx*>(user);
  try {
    *error = (*ctx->fn)(table_view(train), table_view(valid));
    return 0;
  } catch (...) {
    ctx->thrown = std::current_exception();
    return 1;
  }
}
}  // namespace detail

/// Tunes the synthetic volume (see sv_tune); returns the curve as JSON. With an empty
/// `analysis` the built-in analysis of `target` is used; an exception thrown by `analysis`
/// stops the tuning and is rethrown here.
inline std::string tune(const model& m, const table_view& raw, const table_view& valid,
                        const std::string& target, const std::string& options_json = "",
                        const analysis_fn& analysis = {}, const progress_fn& progress = {}) {
  sv_bytes* b = nullptr;
  detail::analysis_ctx actx{&analysis, nullptr};
  try {
    detail::with_progress(progress, [&](sv_progress_fn cb, void* user) {
      return sv_tune(m.get(), raw.get(), valid.get(), target.empty() ? nullptr : detail::cstr(target, "target"),
                     options_json.empty() ? nullptr : detail::cstr(options_json, "options_json"),
                     analysis ? &detail::analysis_trampoline : nullptr, analysis ? &actx : nullptr, cb,
                     user, nullptr, &b);
    });
  } catch (const error&) {
    if (actx.thrown) std::rethrow_exception(actx.thrown);
    throw;
  }
  return bytes(b).str();
}

/// Fits the analysis of `target` on M syntheses with naive and corrected standard errors
/// (see sv_infer); returns JSON.
inline std::string infer(const std::vector<const table_view*>& syntheses, const std::string& target,
                         std::size_t real_rows) {
  std::vector<const sv_table*> hs;
  for (const auto* t : syntheses) hs.push_back(t->get());
  sv_bytes* b = nullptr;
  detail::check(sv_infer(hs.data(), hs.size(), detail::cstr(target, "target"), real_rows, &b));
  return bytes(b).str();
}

/// ε of a DP-SGD plan.
inline double privacy_epsilon(double q, double sigma, std::uint64_t steps, double delta) {
  detail::ensure_abi();
  double e = 0;
  detail::check(sv_privacy_epsilon(q, sigma, steps, delta, &e));
  return e;
}
/// The noise multiplier for a target ε.
inline double privacy_sigma(double q, std::uint64_t steps, double epsilon, double delta) {
  detail::ensure_abi();
  double s = 0;
  detail::check(sv_privacy_sigma(q, steps, epsilon, delta, &s));
  return s;
}

}  // namespace synthvol

#endif  // SYNTHVOL_HPP
