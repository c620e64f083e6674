/* qemu-ppc-mffs: a preload for 32-bit PowerPC programs under qemu-ppc 7.2.
 *
 * glibc's libm (sin, cos, rounding-mode changes) executes POWER9's
 * mffscrn/mffscrni/mffsce/mffsl unconditionally: the ISA has these decode
 * as plain mffs on older processors, and glibc sets the rounding mode
 * itself when AT_HWCAP2 lacks ISA 3.00. qemu 7.2 instead raises an illegal
 * instruction for them on every 32-bit CPU model (G3, G4, e500, ...). This
 * library, loaded with qemu-ppc -E LD_PRELOAD=..., catches that SIGILL and
 * does what a G4 does: FRT <- FPSCR, then the next instruction. Anything
 * else is still an illegal instruction. For tests only (make
 * check-bigendian); no l1b code needs it.
 *
 * Built by the Makefile: $(CC) --target=powerpc-linux-gnu -shared -fPIC. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#define PT_NIP 32

static void on_sigill(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    mcontext_t *mc = uc->uc_mcontext.uc_regs;
    uint32_t insn;
    memcpy(&insn, (const void *)mc->gregs[PT_NIP], 4);
    /* primary opcode 63, extended opcode 583 (mffs), RA field not 0: the
     * ISA 3.0 forms mffsce (1), mffscdrn (20), mffscdrni (21), mffscrn
     * (22), mffscrni (23), mffsl (24) */
    unsigned ra = insn >> 16 & 31;
    if (insn >> 26 == 63 && (insn >> 1 & 0x3ff) == 583 && ra != 0) {
        mc->fpregs.fpregs[insn >> 21 & 31] = mc->fpregs.fpscr;
        mc->gregs[PT_NIP] += 4;
        return;
    }
    /* a real illegal instruction: the default action, as without us */
    signal(sig, SIG_DFL);
    (void)si;
}

__attribute__((constructor)) static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigill;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGILL, &sa, NULL);
}
