/* SSSE3 (Core 2) kernels: pmaddubsw / psignb for int8 x ternary work.
 * Nothing needs them yet; the slot is here so the table's shape is fixed. */
#include "kernels.h"

void kernels_fill_ssse3(Kernels *k) { (void)k; }
