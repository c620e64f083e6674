/* SSE2 (Pentium 4 / M) kernels: integer SSE. The integer ternary kernels
 * of training and sampling plug in here; none are needed yet. */
#include "kernels.h"

void kernels_fill_sse2(Kernels *k) { (void)k; }
