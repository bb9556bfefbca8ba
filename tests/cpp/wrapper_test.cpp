// The C++ wrapper (bindings/cpp/synthvol.hpp): RAII handles, exceptions with status and
// message, the std::function progress adapter (an exception thrown in it comes back to the
// caller and never crosses the library), column input from vectors. Built and run by
// tests/c_abi.rs against the shared and the static library, under valgrind and ASan.
#include "synthvol.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

static int failures = 0;
#define CHECK(cond, what)                                                 \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

static synthvol::table make(std::size_t n, unsigned seed) {
  std::vector<double> x(n), k(n);
  std::vector<std::int32_t> g(n), y(n);
  unsigned s = seed;
  for (std::size_t i = 0; i < n; i++) {
    s = s * 1103515245u + 12345u;
    double u = double(s >> 8) / 16777216.0;
    x[i] = 10 * u;
    k[i] = double(i % 4);
    g[i] = std::int32_t(i % 3);
    y[i] = x[i] > 5 ? 1 : 0;
  }
  synthvol::table t;
  t.add_numeric("x", x).add_numeric("k", k, true);
  t.add_categorical("g", g, {"a", "b", "c"}).add_categorical("y", y, {"no", "yes"});
  return t;
}

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

int main() {
  synthvol::check_abi();
  CHECK(!synthvol::version().empty(), "version");
  synthvol::table t = make(300, 1);
  CHECK(t.rows() == 300 && t.cols() == 4, "shape");
  CHECK(t.name(2) == "g" && !t.is_numeric(2) && t.is_numeric(1), "names and kinds");
  CHECK((t.levels(3) == std::vector<std::string>{"no", "yes"}), "levels");

  synthvol::fit_options o;
  o.target = "y";
  o.steps = 30;
  o.batch_size = 64;
  o.seed = 1;
  o.extra_json = R"({"layers": [16, 16], "timesteps": 10, "time_dim": 8})";
  int reports = 0;
  synthvol::model m = synthvol::model::fit(t, o, [&](const synthvol::progress& p) {
    reports++;
    return p.done <= p.total;
  });
  CHECK(reports > 0, "progress reports");

  // Errors carry the status and the message.
  try {
    synthvol::table bad;
    std::vector<std::int32_t> codes{0, 7};
    bad.add_categorical("c", codes, {"a", "b"});
    CHECK(false, "code outside levels must throw");
  } catch (const synthvol::error& e) {
    CHECK(e.status() == SV_E_INVALID_ARGUMENT && std::strstr(e.what(), "code 7"), e.what());
  }
  // A name with a NUL inside would be cut short at the C boundary: it throws instead.
  try {
    synthvol::table bad;
    std::vector<double> v{1.0, 2.0};
    bad.add_numeric(std::string("ag\0e", 4), v);
    CHECK(false, "an embedded NUL must throw");
  } catch (const synthvol::error& e) {
    CHECK(e.status() == SV_E_INVALID_ARGUMENT && std::strstr(e.what(), "NUL character at byte 2"),
          e.what());
  }
  try {
    synthvol::table bad;
    std::vector<std::int32_t> codes{0, 1};
    bad.add_categorical("c", codes, {"a", std::string("b\0c", 3)});
    CHECK(false, "an embedded NUL in a level must throw");
  } catch (const synthvol::error& e) {
    CHECK(std::strstr(e.what(), "a level label contains a NUL"), e.what());
  }
  // An exception thrown by the progress callback comes back as itself.
  try {
    synthvol::model::fit(t, o, [](const synthvol::progress&) -> bool { throw boom(); });
    CHECK(false, "the callback's exception must propagate");
  } catch (const boom&) {
  }
  // Returning false cancels.
  try {
    m.sample(10, 1, 1, [](const synthvol::progress&) { return false; });
    CHECK(false, "cancel must throw");
  } catch (const synthvol::error& e) {
    CHECK(e.status() == SV_E_CANCELLED, "cancelled status");
  }
  synthvol::cancel_token token;
  token.request();
  try {
    m.sample(10, 1, 1, {}, &token);
    CHECK(false, "token must cancel");
  } catch (const synthvol::error& e) {
    CHECK(e.status() == SV_E_CANCELLED, "token status");
  }

  // Sampling from threads at once, bytes round trip, moves.
  synthvol::table a = m.sample(200, 7, 1);
  std::vector<double> ref = a.numeric(0);
  std::vector<std::thread> threads;
  std::vector<std::vector<double>> got(3);
  for (int i = 0; i < 3; i++)
    threads.emplace_back([&, i] { got[i] = m.sample(200, 7, 1).numeric(0); });
  for (auto& th : threads) th.join();
  for (auto& g : got) CHECK(g == ref, "concurrent sampling");
  std::vector<std::uint8_t> b = m.to_bytes();
  synthvol::model m2 = synthvol::model::from_bytes(b);
  synthvol::model m3 = std::move(m2);
  CHECK(m3.sample(200, 7, 1).numeric(0) == ref, "bytes round trip");
  synthvol::model c = m3.clone();
  CHECK(c.info_json().find("\"schema\"") != std::string::npos, "info JSON");
  CHECK(c.privacy_json().find("\"private\":false") != std::string::npos, "privacy JSON");
  try {
    std::vector<std::uint8_t> junk{1, 2, 3};
    synthvol::model::from_bytes(junk);
    CHECK(false, "junk must throw");
  } catch (const synthvol::error& e) {
    CHECK(e.status() == SV_E_FORMAT, "format status");
  }

  // Fine-tuning, evaluation, accounting.
  synthvol::fit_options ft;
  ft.steps = 10;
  ft.batch_size = 32;
  synthvol::model tuned = m.fine_tune(make(120, 5), ft);
  synthvol::table holdout = make(200, 9);
  std::string report = synthvol::evaluate(t, a, &holdout, R"({"target": "y", "wasserstein_rows": 50})");
  CHECK(report.find("\"utility\"") != std::string::npos, "report");
  double eps = synthvol::privacy_epsilon(0.01, 1.0, 1000, 1e-5);
  CHECK(std::fabs(synthvol::privacy_sigma(0.01, 1000, eps, 1e-5) - 1.0) < 0.02, "accounting");

  // Tuning with a C++ analysis (an exception in it comes back as itself), and inference.
  synthvol::table valid = make(150, 11);
  int calls = 0;
  std::string curve = synthvol::tune(m, t, valid, "", R"({"ratios": [1, 2], "repeats": 1})",
                                     [&](const synthvol::table_view& tr, const synthvol::table_view& va) {
                                       calls++;
                                       return double(tr.rows()) / double(va.rows());
                                     });
  CHECK(calls == 3 && curve.find("\"chosen_m\"") != std::string::npos, "tune with a C++ analysis");
  try {
    synthvol::tune(m, t, valid, "", R"({"ratios": [1]})",
                   [](const synthvol::table_view&, const synthvol::table_view&) -> double { throw boom(); });
    CHECK(false, "the analysis exception must propagate");
  } catch (const boom&) {
  }
  CHECK(synthvol::tune(m, t, valid, "y", R"({"ratios": [1]})").find("misclassification") != std::string::npos,
        "built-in tuning");
  std::string inf = synthvol::infer({&a}, "x", 300);
  CHECK(inf.find("\"se_corrected\"") != std::string::npos, "infer");

  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("wrapper_test: all checks passed\n");
  return 0;
}
