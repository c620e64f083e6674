/* margin: the greedy continuation l1b-sample --greedy [--exact] prints, and
 * at each step the gap between the two largest logits, so that
 * make-golden.sh only records texts no rounding difference between
 * instruction sets can change. Built by make-golden.sh against the build's
 * library; not part of the programs or of the tests.
 *
 *   margin MODEL PROMPT N [exact]
 *
 * prints one line per step (step, token, top logit, gap) on stdout and
 * the smallest gap last ("min GAP"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernels.h"
#include "threads.h"
#include "tokenizer.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: margin MODEL PROMPT N [exact]\n");
        return 2;
    }
    kernels_init(getenv("L1B_SIMD"));
    threads_init(1);
    Infer m;
    if (infer_read(&m, argv[1], argc > 4 ? INFER_EXACT : 0) < 0) {
        fprintf(stderr, "margin: %s\n", l1b_last_error());
        return 1;
    }
    Session s;
    session_init(&s, &m);
    size_t n = strlen(argv[2]);
    uint16_t *ids = xmalloc((n + 1) * sizeof *ids);
    size_t n_ids = tok_encode_text(&m.tok, (const uint8_t *)argv[2], n, ids);
    const float *logits = session_feed(&s, TOK_EOD);
    if (n_ids) logits = session_feed_many(&s, ids, n_ids);
    double min_gap = 1e30;
    uint32_t V = m.cfg.vocab;
    for (int t = 0; t < atoi(argv[3]); t++) {
        uint32_t a = 0, b = 1;
        if (logits[b] > logits[a]) a = 1, b = 0;
        for (uint32_t k = 2; k < V; k++) {
            if (logits[k] > logits[a]) b = a, a = k;
            else if (logits[k] > logits[b]) b = k;
        }
        double gap = (double)logits[a] - logits[b];
        if (gap < min_gap) min_gap = gap;
        size_t len;
        const uint8_t *bytes = tok_bytes(&m.tok, a, &len);
        printf("%d %u '", t, a);
        fwrite(bytes, 1, len, stdout);
        printf("' %.6f %.6f\n", (double)logits[a], gap);
        if (a == TOK_EOD) break;
        logits = session_feed(&s, (int)a);
    }
    printf("min %.6f\n", min_gap);
    free(ids);
    session_free(&s);
    infer_free(&m);
    return 0;
}
