/* svg: the metric history drawn as one self-contained SVG file, by hand
 * (no library): two panels over the training step, the train and
 * validation loss above and the validation bits per byte below, each with
 * axes, ticks, labels and a legend.
 *
 * Every curve is one <path> with class train_loss, val_loss or val_bpb,
 * "M x,y" then " L x,y" for each further point; rows whose value is not
 * finite (validation between evaluations) are skipped. A history whose
 * step goes back (training continued from an unpacked model starts again
 * at step 0) is drawn continuing to the right of where it was. */
#ifndef L1B_SVG_H
#define L1B_SVG_H

#include <stddef.h>

#include "ckpt.h"

/* Write the plot to path atomically; title is shown above (escaped). */
int history_svg_write(const char *path, const HistRow *rows, size_t n, const char *title);

#endif
