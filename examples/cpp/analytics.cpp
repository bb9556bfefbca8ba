// A small analytics program: read a CSV, fit a model under differential privacy with a
// public schema, write synthetic rows, and print what the fit spent and how the rows compare.
//
//   cmake -S examples/cpp -B build -DCMAKE_PREFIX_PATH=PREFIX && cmake --build build
//   ./build/analytics DATA.csv SCHEMA.json OUT.csv [EPSILON] [STEPS]
// against synthvol installed into PREFIX (README, "Using the library from C and C++").
// (SCHEMA.json as `synthvol schema --data DATA.csv` writes it, reviewed to be public.)
#include "synthvol.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: analytics DATA.csv SCHEMA.json OUT.csv [EPSILON] [STEPS]\n";
    return 2;
  }
  try {
    synthvol::check_abi();
    synthvol::table data = synthvol::table::read_csv(argv[1]);
    std::ifstream in(argv[2]);
    if (!in) throw std::runtime_error(std::string("cannot read ") + argv[2]);
    std::stringstream schema;
    schema << in.rdbuf();

    synthvol::fit_options opts;
    opts.epsilon = argc > 4 ? std::stod(argv[4]) : 1.0;
    opts.delta = 1e-5;
    opts.schema_json = schema.str();
    opts.steps = argc > 5 ? std::stoull(argv[5]) : 300;
    opts.extra_json = R"({"layers": [128, 128], "timesteps": 50})";
    std::uint64_t last = 0;
    synthvol::model model = synthvol::model::fit(data, opts, [&](const synthvol::progress& p) {
      if (p.done * 10 / p.total != last * 10 / p.total || p.done == p.total)
        std::fprintf(stderr, "\r%s %3.0f%%", std::string(p.stage).c_str(), 100.0 * p.done / p.total);
      last = p.done;
      return true;
    });
    std::fprintf(stderr, "\n");
    synthvol::table syn = model.sample(data.rows(), 1);
    syn.write_csv(argv[3]);
    std::cout << "wrote " << syn.rows() << " synthetic rows to " << argv[3] << "\n";
    std::cout << "privacy: " << model.privacy_json() << "\n";
    std::string report = synthvol::evaluate(data, syn, nullptr, R"({"wasserstein_rows": 200})");
    auto at = report.find("\"mean_column_score\"");
    std::cout << "fidelity: " << report.substr(at, report.find(',', at) - at) << "\n";
  } catch (const synthvol::error& e) {
    std::cerr << "synthvol error " << e.status() << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
