// libFuzzer target: kubeconfig files (YAML, base64 *-data fields, contexts, merge of a
// ':'-separated list). Loading must fail with a message, never crash or throw.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "k8s-client/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/fairway-kubeconfig-fuzz-" + std::to_string(getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    (void)fairway::k8s::load_kubeconfig(path);
    (void)fairway::k8s::load_kubeconfig(path + ":" + path, "other");
  } catch (...) {
    __builtin_trap();  // the loader promises errors as values
  }
  return 0;
}
