// `loam --version` and `loam info --cpu`: what the CPU offers and which kernel set runs.
#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace loam {
namespace cli {

int print_cpu_report() {
  // Check the selection first so a bad LOAM_ISA prints only its error line.
  if (Status st = select_kernels(); !st) return runtime_error(st.message());
  std::printf("cpu features: %s\n", cpu_features().describe().c_str());
  std::string built;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (kernel_table_for(isa) == nullptr) continue;
    if (!built.empty()) built += ' ';
    built += isa_name(isa);
    if (isa != Isa::Scalar && !isa_supported(isa)) built += "(unsupported here)";
  }
  std::printf("kernel sets built: %s\n", built.c_str());
  std::printf("kernels: %s%s\n", kernels().isa,
              std::getenv("LOAM_ISA") ? " (forced by LOAM_ISA)" : " (best for this CPU)");
  return kExitOk;
}

}  // namespace cli
}  // namespace loam
