/* kernel_choice.h — which kernel served which shape: conv.c and linear.c
 * note each choice they make (the first time for a shape), so that a user
 * or a benchmark can see what ran (cv.nn.kernel_choices()). The table is
 * the process's, guarded for threads; strings are copied in. */
#ifndef CV_KERNEL_CHOICE_H
#define CV_KERNEL_CHOICE_H

/* At most this many (op, shape) pairs are kept; later ones are counted in
 * cv_kernel_choice_dropped() only. */
#define CV_KERNEL_CHOICES_MAX 128

/* Notes that `op` ("conv2d forward") on `shape` ("16x256x13x13 k3 g2 ->
 * 384") ran `kernel` ("winograd F(2x2,3x3)"); a pair seen before has its
 * kernel replaced and its count raised. */
void cv_kernel_choice_note(const char *op, const char *shape, const char *kernel);

/* The number of pairs kept, and entry i of them (0-based, in the order
 * first seen): borrowed strings, valid until cv_kernel_choice_reset. */
int cv_kernel_choice_count(void);
void cv_kernel_choice_get(int i, const char **op, const char **shape,
                          const char **kernel, long *calls);
long cv_kernel_choice_dropped(void);

/* Forgets every pair. */
void cv_kernel_choice_reset(void);

/* The build's instruction set and vector width for the hand-written kernels
 * ("avx512", 16; simd.h). */
const char *cv_kernel_isa(void);
int cv_kernel_lanes(void);

#endif
