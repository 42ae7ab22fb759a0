#pragma once
// Rows times a constant matrix, Y[M, N] = A[M, K] · B[K, N] + bias, with B in
// the 64-column panels oneDNN packs matmul weights into (gemv.h): the
// products of a transformer's linear layers (M = sequence length).
//
// oneDNN's brgemm kernel runs these at 76-81% of the FMA peak when B is in
// cache but at 60-64% when B comes from memory, as a model's weights do
// (bench_matmul's BM_MatMulCold beside BM_MatMulHot): its demand misses on B
// are not overlapped with the arithmetic. Here, while the tiles of one block
// of B run, each tile also prefetches its share of the next block's lines,
// so B arrives while the FMAs run (BM_GemmCold beside BM_MatMulCold).
//
// Blocking: rows in blocks of kGemmRowBlock, K in blocks of at most
// kGemmKBlock, so a block of A (at most 720 KB; 384 KB for the encoders'
// 128 rows) and a panel's block of B (at most 192 KB) stay in a 2 MB L2
// while every row tile of the block reads them.
#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/gemv.h"
#include "kernels/isa.h"

namespace normrt::kernels {

constexpr int64_t kGemmRowBlock = 240, kGemmKBlock = 768;
// Y's columns come in blocks of 16: element (m, n) is y[m * ldy + n / 16 *
// ldb + n % 16]. ldb = 16 is a row-major Y; a convolution's output held in
// oneDNN's nChw16c has ldy = 16 (a pixel's 16 channels) and ldb = H * W * 16.
constexpr int64_t kGemmColumnBlock = 16;

struct GemmTable {
  // Rows [0, rows) of one panel's columns [0, width) for one block of K,
  // [k0, k0 + kc): y (laid out by ldy and ldb) = (first ? 0 : y) + a (row
  // stride lda) · wp (the panel's rows k0 on, 64 floats each), plus bias
  // (the panel's `width` values, or null) when `last`, then clamped to
  // [clamp[0], clamp[1]] (Relu, Clip; NaN kept) when `last` and clamp is
  // not null. Also prefetches `lines` 64-byte lines from `next`, spread over
  // the tiles.
  void (*panel)(const float* a, int64_t lda, const float* wp, int64_t kc, float* y, int64_t ldy, int64_t ldb,
                int64_t rows, int64_t width, bool first, bool last, const float* bias, const float* clamp,
                const char* next, int64_t lines);
};
NORMRT_ISA_TABLE(GemmTable, gemm_table)

// `w`: the whole packed B (gemv.h's layout). `act`: applied to the outputs
// after the bias, or null. Panels (and, where they do not divide evenly
// between the threads, rows) are spread over the OpenMP threads; each
// output sums over K in one fixed
// order, so the result is bitwise the same for any thread count and for a
// row whatever the other rows are. (gemv sums in another order: a session
// runs one row on it, so a row alone may differ in the last bits from the
// same row among others.)
void gemm(Isa isa, const float* a, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
          const UnaryParams* act);

// The same product with rows of A `lda` floats apart and Y laid out by ldy
// and ldb (kGemmColumnBlock): for a 1x1 convolution reading and writing its
// activations where they are. (Relu and Clip are applied as each tile is
// stored, other activations after.)
void gemm(Isa isa, const float* a, int64_t lda, const float* w, const float* bias, float* y, int64_t ldy, int64_t ldb,
          int64_t M, int64_t K, int64_t N, const UnaryParams* act);

// A product over B's panels as a session runs it: one row on gemv (`act`
// after; that row's Y contiguous, ldb 16), more rows on gemm.
void panels_product(Isa isa, const float* a, int64_t lda, const float* w, const float* bias, float* y, int64_t ldy,
                    int64_t ldb, int64_t M, int64_t K, int64_t N, const UnaryParams* act);

// Whether products of several rows run on gemm at `isa` on this CPU: at
// AVX-512 (below it a tile holds one row) on Intel's cores, where it was
// measured faster than oneDNN's kernel. On AMD's Zen 4 and Zen 5 oneDNN ran
// the encoders' products at 88-92% of the FMA peak in the model, and gemm
// has not been measured there.
bool gemm_chosen(Isa isa);

}  // namespace normrt::kernels
