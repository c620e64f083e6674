#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

/* The page: 800 x 600 pixels, two panels sharing the x range. */
enum { WIDTH = 800, HEIGHT = 600, LEFT = 80, RIGHT = 30 };
static const double panel_top[2] = {50, 345}, panel_height[2] = {220, 175};

typedef struct {
    OutFile *f;
    int rc;
} Svg;

static void emit(Svg *s, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void emit(Svg *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    if (s->rc == 0) s->rc = outfile_write(s->f, buf, (size_t)n);
}

static void emit_text(Svg *s, const char *t)
{
    for (; *t && s->rc == 0; t++) {
        switch (*t) {
        case '&': emit(s, "&amp;"); break;
        case '<': emit(s, "&lt;"); break;
        case '>': emit(s, "&gt;"); break;
        case '"': emit(s, "&quot;"); break;
        default:
            /* control bytes are not allowed in XML 1.0 */
            if ((unsigned char)*t >= 0x20) emit(s, "%c", *t);
        }
    }
}

/* ---- scales and ticks --------------------------------------------------- */

/* Any finite value can be plotted: values beyond +-AXIS_LIMIT are drawn at
 * that limit (so spans and tick positions stay finite), a range narrower
 * than a billionth of its magnitude (values apart in their last bits) or
 * than ZERO_SPAN (denormals) is widened, and an axis has at most MAX_TICKS
 * ticks, each computed from its index: no loop waits for a sum of floats to
 * move. */
#define AXIS_LIMIT 1e300
#define ZERO_SPAN 1e-12
enum { MAX_TICKS = 20 };

typedef struct {
    double lo, hi, step;  /* the axis runs lo..hi with a tick every step */
    int ticks;            /* at lo + i * step for i < ticks */
} Axis;

static double clamp_to_axis_limit(double v) { return v > AXIS_LIMIT ? AXIS_LIMIT : v < -AXIS_LIMIT ? -AXIS_LIMIT : v; }

/* lo <= hi, both finite. Ticks at multiples of 1, 2 or 5 times a power of
 * ten, about (hi - lo) / 5 apart */
static Axis nice_axis(double lo, double hi)
{
    lo = clamp_to_axis_limit(lo);
    hi = clamp_to_axis_limit(hi);
    double mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo < fmax(mag * 1e-9, ZERO_SPAN)) {
        double mid = lo / 2 + hi / 2, pad = mag > 10 * ZERO_SPAN ? 0.1 * mag : 1;
        lo = mid - pad;
        hi = mid + pad;
    }
    double raw = (hi - lo) / 5, p10 = pow(10, floor(log10(raw))), f = raw / p10;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p10;
    Axis a = {floor(lo / step) * step, ceil(hi / step) * step, step, 0};
    double n = floor((a.hi - a.lo) / step + 0.5);
    a.ticks = n < 1 ? 2 : n >= MAX_TICKS ? MAX_TICKS : (int)n + 1;
    a.hi = a.lo + (a.ticks - 1) * step;
    return a;
}

/* v (clamped to the axis) from the axis range to from..to */
static double map(const Axis *a, double v, double from, double to)
{
    if (v < a->lo) v = a->lo;
    if (v > a->hi) v = a->hi;
    return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

static void tick_label(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-6) v = 0;  /* -0 and rounding dust */
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e6 || decimals > 12) {
        /* enough digits to tell one tick from the next */
        double d = v == 0 ? 1 : floor(log10(fabs(v))) - floor(log10(step)) + 1;
        snprintf(buf, n, "%.*g", d < 3 ? 3 : d > 17 ? 17 : (int)d, v);
    } else if (decimals == 0) {
        snprintf(buf, n, "%.0f", v);
    } else {
        snprintf(buf, n, "%.*f", decimals, v);
    }
}

/* ---- the plot ------------------------------------------------------------- */

typedef struct {
    const char *cls, *label, *colour;
    int col;  /* HistRow column */
    int dash;
} Curve;

static const Curve curves[] = {
    {"train_loss", "train loss", "#1f77b4", H_TRAIN_LOSS, 0},
    {"val_loss", "validation loss", "#d62728", H_VAL_LOSS, 1},
    {"val_bpb", "validation bits per byte", "#2ca02c", H_VAL_BPB, 0},
};
static const int panel_of[] = {0, 0, 1};
static const char *const panel_title[2] = {"loss (nats per token)", "bits per byte"};

static void draw_panel(Svg *s, int p, const Axis *ax, const double *x, const HistRow *rows, size_t n)
{
    double top = panel_top[p], bottom = top + panel_height[p], right = WIDTH - RIGHT;
    int have = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < sizeof curves / sizeof curves[0]; k++) {
        if (panel_of[k] != p) continue;
        for (size_t i = 0; i < n; i++) {
            double v = rows[i].v[curves[k].col];
            if (!isfinite(v)) continue;
            have = 1;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    Axis ay = have ? nice_axis(lo, hi) : nice_axis(0, 1);

    emit(s, "<g class=\"panel\">\n");
    emit(s, "<rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%.0f\" fill=\"none\" stroke=\"#000\"/>\n", LEFT, top,
         WIDTH - LEFT - RIGHT, panel_height[p]);
    /* ticks, grid lines and labels */
    char lab[64];
    for (int i = 0; i < ay.ticks; i++) {
        double v = ay.lo + i * ay.step, y = map(&ay, v, bottom, top);
        emit(s, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\" stroke=\"#ddd\"/>", LEFT, y, right, y);
        emit(s, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#000\"/>", LEFT - 5, y, LEFT, y);
        tick_label(lab, sizeof lab, v, ay.step);
        emit(s, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", LEFT - 8, y + 4, lab);
    }
    for (int i = 0; i < ax->ticks; i++) {
        double v = ax->lo + i * ax->step, xx = map(ax, v, LEFT, right);
        emit(s, "<line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" stroke=\"#ddd\"/>", xx, top, xx, bottom);
        emit(s, "<line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" stroke=\"#000\"/>", xx, bottom, xx, bottom + 5);
        tick_label(lab, sizeof lab, v, ax->step);
        emit(s, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", xx, bottom + 19, lab);
    }
    emit(s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", (LEFT + right) / 2, bottom + 36);
    emit(s, "<text transform=\"translate(%d,%.0f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n", LEFT - 55,
         (top + bottom) / 2, panel_title[p]);
    if (!have)
        emit(s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
             (LEFT + right) / 2, (top + bottom) / 2);

    /* curves, then the legend in the top right corner */
    int slot = 0;
    for (size_t k = 0; k < sizeof curves / sizeof curves[0]; k++) {
        if (panel_of[k] != p) continue;
        const Curve *c = &curves[k];
        size_t points = 0;
        double px = 0, py = 0;
        for (size_t i = 0; i < n; i++) {
            double v = rows[i].v[c->col];
            if (!isfinite(v)) continue;
            px = map(ax, x[i], LEFT, right);
            py = map(&ay, v, bottom, top);
            if (!points) emit(s, "<path class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s d=\"M %.2f,%.2f",
                              c->cls, c->colour, c->dash ? " stroke-dasharray=\"6,3\"" : "", px, py);
            else emit(s, " L %.2f,%.2f", px, py);
            points++;
        }
        if (!points) continue;
        emit(s, "\"/>\n");
        if (points == 1)  /* a lone point draws no line: mark it */
            emit(s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n", px, py, c->colour);
        double ly = top + 16 + 18 * slot++, lx = right - 190;
        emit(s, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx, ly,
             lx + 24, ly, c->colour, c->dash ? " stroke-dasharray=\"6,3\"" : "");
        emit(s, "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", lx + 30, ly + 4, c->label);
    }
    emit(s, "</g>\n");
}

int history_svg_write(const char *path, const HistRow *rows, size_t n, const char *title)
{
    /* the x of each row: the step, continued past a restart */
    double *x = xmalloc((n + 1) * sizeof *x), offset = 0, xlo = INFINITY, xhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double st = isfinite(rows[i].v[H_STEP]) ? rows[i].v[H_STEP] : 0;
        if (i && st < rows[i - 1].v[H_STEP]) offset = x[i - 1];
        x[i] = clamp_to_axis_limit(offset + st);  /* (a sum of huge steps may be inf) */
        xlo = fmin(xlo, x[i]);
        xhi = fmax(xhi, x[i]);
    }
    Axis ax = n ? nice_axis(xlo < 0 ? xlo : 0, xhi) : nice_axis(0, 1);

    OutFile f;
    if (outfile_open(&f, path) < 0) {
        free(x);
        return -1;
    }
    Svg s = {&f, 0};
    emit(&s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    emit(&s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n", WIDTH, HEIGHT, WIDTH, HEIGHT);
    emit(&s, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    emit(&s, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">", WIDTH / 2);
    emit_text(&s, title);
    emit(&s, "</text>\n");
    for (int p = 0; p < 2; p++) draw_panel(&s, p, &ax, x, rows, n);
    emit(&s, "</svg>\n");
    free(x);
    if (s.rc < 0) {
        outfile_abort(&f);
        return -1;
    }
    return outfile_commit(&f);
}
