/* simd.h — the vector type of the build, for the hand-written kernels
 * (linear_skinny.c, winograd.c): as wide as the instruction set the
 * compiler targets (-march), so that blocks sized from it fit the register
 * file: 16 floats and 32 registers with AVX-512, 8 floats and 16 registers
 * with AVX/AVX2, 4 floats and 16 registers otherwise (SSE2, x86-64's base). */
#ifndef CV_SIMD_H
#define CV_SIMD_H

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

#endif
