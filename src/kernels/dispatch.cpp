#include <cstdlib>
#include <mutex>

#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace loam {

namespace {

KernelTable build_scalar() {
  KernelTable t;
  t.isa = "scalar";
  register_scalar_float_kernels(t);
  register_scalar_quant_kernels(t);
  register_scalar_interleaved_kernels(t);
  return t;
}

}  // namespace

// AVX-512 CPUs run every AVX2 kernel the AVX-512 files do not override, and keep the AVX2 one where
// it was measured faster or has a multi-token kernel the AVX-512 files lack (below). Float weights
// keep the AVX2 kernels (x86_avx512/float_kernels.cpp), except F16's gemm, which the AVX-512 files
// give in the AVX2 float order (x86_avx512/f16_gemm.cpp). Of the AVX-512 weight kernels the table
// then runs that gemm and the VNNI multi-token kernels over interleaved Q4_0, Q8_0, Q4_K, Q5_K and
// Q6_K weights (prompts, batches; one token still takes the AVX2 gemv, whose bits they all give);
// the AVX-512 gemvs stand only for types AVX2 has no multi-token kernel for (none today).
KernelTable compose_avx512_table(const KernelTable& scalar, void (*register_avx2)(KernelTable&),
                                 void (*register_avx512)(KernelTable&)) {
  KernelTable k = scalar;
  k.isa = "avx512";
  register_avx2(k);
  const KernelTable avx2_only = k;
  register_avx512(k);
  for (uint32_t t = 0; t < kDTypeCount; ++t) {
    TypeKernels& tk = k.weights[t];
    if (avx2_only.weights[t].prefer_interleaved) {
      // Types with AVX2 kernels over interleaved weights (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) keep
      // them: measured on an AMD EPYC with AVX-512 VNNI, 2 threads, TinyLlama shape, the
      // AVX2 set is faster there than the one-row AVX-512 gemv (Q4_0 pp64 125 vs 56
      // tok/s, tg16 76 vs 40; Q4_K_M pp64 114 vs 75, tg16 63 vs 56). Where the AVX-512
      // files have their own multi-token kernel over interleaved weights (VNNI: Q4_0, Q8_0,
      // Q4_K, Q5_K, Q6_K), it replaces the AVX2 one: it gives the AVX2 kernels' results bit for
      // bit (x86_avx512/interleaved_kernels.cpp, interleaved_k_kernels.cpp), so the AVX2 gemv
      // still stands for it.
      const GemmFn own_gemm = tk.gemm_interleaved;
      tk = avx2_only.weights[t];
      if (own_gemm != nullptr && own_gemm != avx2_only.weights[t].gemm_interleaved)
        tk.gemm_interleaved = own_gemm;
    } else if (avx2_only.weights[t].gemm != nullptr && tk.gemm == nullptr) {
      // The AVX-512 gemv replaced AVX2's and dropped its multi-token gemm over the file layout
      // (Q4_1, Q5_0, Q5_1), which gives the AVX2 gemv's bits, not the AVX-512 one's (Q4_1's differ
      // in the last bits). The type keeps the AVX2 pair: on the AVX2 EPYC the gemm reads prompts
      // 1.5-2x as fast as one token per pass (pp512 Q4_1 64 -> 96, Q5_0 41 -> 84, Q5_1 39 -> 79
      // tok/s), more than a wider one-token gemv could make up. Decode of these types with the
      // AVX-512 gemv against the AVX2 one has not been timed on an AVX-512 CPU.
      tk = avx2_only.weights[t];
    } else if (tk.gemv != avx2_only.weights[t].gemv &&
               tk.gemv_interleaved == avx2_only.weights[t].gemv_interleaved) {
      // An AVX2 kernel over interleaved weights matches the AVX2 gemv bit for bit, not an
      // AVX-512 one that replaced it: such types fall back to the scalar (exact,
      // unpreferred) interleaved kernel, so the weights are not interleaved on this table.
      tk.gemv_interleaved = scalar.weights[t].gemv_interleaved;
      tk.gemm_interleaved = scalar.weights[t].gemm_interleaved;
      tk.prefer_interleaved = false;
    }
  }
  return k;
}

namespace {

// Tables are built on first use from the scalar one, so an ISA only overrides what it speeds up.
const KernelTable* table_storage(Isa isa) {
  static const KernelTable scalar = build_scalar();
  switch (isa) {
    case Isa::Scalar:
      return &scalar;
#if defined(LOAM_HAVE_X86_KERNELS)
    case Isa::Avx2: {
      static const KernelTable t = [] {
        KernelTable k = scalar;
        k.isa = "avx2";
        avx2::register_kernels(k);
        return k;
      }();
      return &t;
    }
    case Isa::Avx512: {
      static const KernelTable t =
          compose_avx512_table(scalar, avx2::register_kernels, avx512::register_kernels);
      return &t;
    }
#endif
#if defined(LOAM_HAVE_NEON_KERNELS)
    case Isa::Neon: {
      static const KernelTable t = [] {
        KernelTable k = scalar;
        k.isa = "neon";
        neon::register_kernels(k);
        return k;
      }();
      return &t;
    }
#endif
    default:
      return nullptr;
  }
}

std::mutex g_select_mutex;
const KernelTable* g_selected = nullptr;

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "?";
}

const KernelTable* kernel_table_for(Isa isa) { return table_storage(isa); }

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return table_storage(isa) != nullptr && f.avx2 && f.fma && f.f16c;
    case Isa::Avx512:
      return table_storage(isa) != nullptr && f.avx2 && f.fma && f.f16c && f.avx512f &&
             f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
    case Isa::Neon:
      return table_storage(isa) != nullptr && f.neon;
  }
  return false;
}

Isa best_isa() {
  // Widest first. The AVX-512 kernels are verified against the scalar ones under emulation on any
  // x86 CPU (test_kernels_avx512_emulated: the same sources compiled against a portable model of
  // the intrinsics), and natively by the kernel tests, which run every ISA isa_supported()
  // reports, whenever the suite runs on AVX-512 hardware (CI, when it has such a runner).
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Neon}) {
    if (isa_supported(isa)) return isa;
  }
  return Isa::Scalar;
}

Status select_kernels(const std::string& name) {
  std::string want = name;
  if (want.empty()) {
    const char* env = std::getenv("LOAM_ISA");
    if (env != nullptr) want = env;
  }
  Isa chosen = best_isa();
  if (!want.empty() && want != "auto") {
    bool known = false;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
      if (want == isa_name(isa)) {
        known = true;
        chosen = isa;
      }
    }
    if (!known)
      return Status::error("LOAM_ISA='" + want + "' is not one of scalar, avx2, avx512, neon");
    if (!isa_supported(chosen))
      return Status::error("LOAM_ISA='" + want + "': this " +
                           (table_storage(chosen) ? std::string("CPU cannot run it")
                                                  : std::string("build has no kernels for it")) +
                           " (CPU features: " + cpu_features().describe() + ")");
  }
  std::lock_guard<std::mutex> lock(g_select_mutex);
  g_selected = table_storage(chosen);
  return Status::ok();
}

const KernelTable& kernels() {
  {
    std::lock_guard<std::mutex> lock(g_select_mutex);
    if (g_selected != nullptr) return *g_selected;
  }
  // Never selected explicitly: honour $LOAM_ISA when it is valid, else take the best.
  if (!select_kernels("")) select_kernels("auto");
  std::lock_guard<std::mutex> lock(g_select_mutex);
  return *g_selected;
}

void use_kernel_table_for_testing(const KernelTable* table) {
  std::lock_guard<std::mutex> lock(g_select_mutex);
  g_selected = table;
}

size_t act_row_bytes(DType act_type, int64_t n_cols) {
  if (act_type == DType::F32) return static_cast<size_t>(n_cols) * sizeof(float);
  return dtype_row_bytes(act_type, n_cols);
}

}  // namespace loam
