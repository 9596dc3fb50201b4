// One table of kernel function pointers per instruction set. CPU features are read once at
// start-up and one table is chosen (LOAM_ISA=scalar|avx2|avx512|neon forces one); callers use
// kernels() and never test ISA flags themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/kernel_table.h"
#include "loam/status.h"

namespace loam {

enum class Isa { Scalar, Avx2, Avx512, Neon };
const char* isa_name(Isa isa);

// The table for one ISA, or nullptr when this build has no kernels for it.
const KernelTable* kernel_table_for(Isa isa);
// Whether this CPU (and OS) can run that ISA's kernels.
bool isa_supported(Isa isa);
// Best ISA this CPU supports among those built.
Isa best_isa();

// Chooses the table used by kernels(): `name` ("scalar", "avx2", "avx512", "neon") or, when
// empty, $LOAM_ISA, or else the best supported. Fails for an unknown or unsupported name.
Status select_kernels(const std::string& name = "");
// The chosen table; the best supported one if select_kernels() was never called.
const KernelTable& kernels();
// Makes kernels() return `table` (which must outlive its use) until called again; nullptr goes
// back to the selection above. For tests that run whole models through a table no CPU here can
// select: the AVX-512 kernels compiled against the intrinsics model (test_kernels_avx512_emulated).
void use_kernel_table_for_testing(const KernelTable* table);

// The avx512 table as dispatch builds it from the scalar table and the two sets' registration
// functions (AVX-512 CPUs run the AVX2 kernels wherever those are faster or keep a float order the
// AVX-512 ones do not). test_kernels_avx512_emulated builds it with the emulated AVX-512 kernels.
KernelTable compose_avx512_table(const KernelTable& scalar, void (*register_avx2)(KernelTable&),
                                 void (*register_avx512)(KernelTable&));

// Bytes of n_cols activations converted to `act_type` (n_cols * 4 for F32).
size_t act_row_bytes(DType act_type, int64_t n_cols);

}  // namespace loam
