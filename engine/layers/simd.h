/* simd.h — the vector type of the build, for the hand-written kernels
 * (linear_skinny.c, winograd.c): as wide as the instruction set the
 * compiler targets (-march), so that blocks sized from it fit the register
 * file: 16 floats and 32 registers with AVX-512, 8 floats and 16 registers
 * with AVX/AVX2, 4 floats and 16 registers otherwise (SSE2, x86-64's base). */
#ifndef CV_SIMD_H
#define CV_SIMD_H

#include <stdint.h>

#if defined(__AVX512F__)
#define CV_LANES 16
#define CV_VEC_REGS 32
#define CV_ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define CV_LANES 8
#define CV_VEC_REGS 16
#define CV_ISA "avx2+fma"
#elif defined(__AVX__)
#define CV_LANES 8
#define CV_VEC_REGS 16
#define CV_ISA "avx"
#else
#define CV_LANES 4
#define CV_VEC_REGS 16
#define CV_ISA "sse2"
#endif

/* CV_LANES floats; aligned(4) so that any float address may be loaded. */
typedef float cv_vec __attribute__((vector_size(CV_LANES * 4), aligned(4)));

/* Macros, not functions: vectors passed by value change the ABI between
 * targets, which compilers warn about. */
#define CV_VLOAD(p) (*(const cv_vec *)(p))
#define CV_VSTORE(p, v) (*(cv_vec *)(p) = (v))

/* Keeps a loaded vector in a register: compilers otherwise load it again
 * for every product it takes part in (a memory operand per FMA), which
 * doubles or quadruples a block's loads. */
#define CV_VREG(v) __asm__("" : "+v"(v))

/* Stores that go around the caches, for outputs far larger than they are
 * and not read again soon (a weight gradient of CaffeNet's fc6: 151 MB): a
 * plain store first reads each line it writes. p must be aligned to the
 * vector's size; each thread ends its streaming with CV_STREAM_FENCE()
 * before others read what it wrote. */
#define CV_STREAM_MIN_BYTES ((int64_t)8 << 20)
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#if CV_LANES == 16
#define CV_VSTREAM(p, v) _mm512_stream_ps((float *)(p), (__m512)(v))
#elif CV_LANES == 8
#define CV_VSTREAM(p, v) _mm256_stream_ps((float *)(p), (__m256)(v))
#else
#define CV_VSTREAM(p, v) _mm_stream_ps((float *)(p), (__m128)(v))
#endif
#define CV_STREAM_FENCE() _mm_sfence()
#else
#define CV_VSTREAM(p, v) CV_VSTORE(p, v)
#define CV_STREAM_FENCE() ((void)0)
#endif
/* Whether an output of `floats` at p with rows of `row` floats is streamed. */
#define CV_STREAMS(p, floats, row)                                      \
  ((int64_t)(floats) * 4 >= CV_STREAM_MIN_BYTES && (row) % CV_LANES == 0 && \
   (uintptr_t)(p) % (CV_LANES * 4) == 0)

#endif
