// A program built against a header of another ABI version (999) than the installed library's:
// the C++ wrapper must refuse on first use with a clear message, not call into the library.
// Built by tests/install.rs against the installed prefix.
#include "synthvol.h"
#undef SV_ABI_VERSION
#define SV_ABI_VERSION 999
#include "synthvol.hpp"

#include <cstdio>
#include <exception>

int main() {
  try {
    synthvol::table t = synthvol::table::read_csv("does-not-matter.csv");
    std::puts("no error: the wrapper did not check the ABI");
    return 1;
  } catch (const std::exception& e) {
    std::printf("refused: %s\n", e.what());
    return 3;
  }
}
