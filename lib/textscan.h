/* textscan: raw text input for tokenizing — the concatenation of files (or
 * stdin), readable twice when BPE needs a counting pass and an encoding
 * pass, cut into documents, user symbols and pre-tokens.
 *
 * Documents (DOC_NONE: the input is one stream without end-of-document
 * tokens):
 *   DOC_LINE   every line is a document; its newline stays in it
 *   DOC_NUL    every NUL-terminated record is a document; the NUL stays in it
 *   DOC_BLANK  paragraphs: a document ends before the first pre-token that is
 *              not white space after a run of white space holding two or more
 *              newlines; leading white space never opens a document
 * A last document without its terminator still ends at end of input.
 * No pre-token crosses a document boundary, and a user symbol is matched
 * only when it lies wholly inside one (tokenizer.h, tok_split). */
#ifndef L1B_TEXTSCAN_H
#define L1B_TEXTSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

enum { DOC_NONE, DOC_LINE, DOC_BLANK, DOC_NUL };

typedef struct {
    char **paths;     /* NULL-free list; "-" is stdin */
    int n_paths, cur;
    int fd;
    const char *name; /* current file, for messages */
    int rewindable;   /* asked for a second pass */
    int spool_fd;     /* copy of stdin for the second pass, or -1 */
    char *spool_path;
    int second_pass;
    int in_spool;     /* second pass: still reading the spool */
    uint64_t limit;   /* first pass ends after this many bytes (0: none) */
    /* where the first pass stopped, for the second pass to go on from
     * after the spool */
    int stop_cur, stop_fd;
    const char *stop_name;
    uint64_t bytes;   /* read in this pass */
} TextInput;

/* paths == NULL or n == 0 reads stdin. With rewindable, when any input is
 * not a regular file (a pipe, stdin not at its start), the first pass copies
 * what it reads to a temporary file ($TMPDIR) that the second pass reads
 * first, then going on with the inputs from where the first pass stopped
 * (nowhere, unless textin_limit cut it short). */
int textin_open(TextInput *in, char **paths, int n, int rewindable);
/* End the first pass after limit bytes (> 0), as if the input ended there;
 * the second pass still reads everything, and only the first pass's bytes
 * are spooled. Call before the first read. */
void textin_limit(TextInput *in, uint64_t limit);
/* Next bytes of the concatenation: count, 0 at the end, -1 on error. */
long long textin_read(TextInput *in, void *buf, size_t n);
/* Start the second pass (only after textin_open(..., rewindable=1)). */
int textin_rewind(TextInput *in);
void textin_close(TextInput *in);  /* also removes the spool file */

enum { SCAN_END = 0, SCAN_PIECE = 1, SCAN_EOD = 2 };

typedef struct {
    TextInput *in;
    const Tokenizer *tok;  /* its user symbols are cut out, or NULL */
    uint32_t symbol;  /* the last piece was this user symbol (0: none) */
    int doc;
    uint8_t *buf;
    size_t cap, pos, end;
    int eof;
    int doc_open;     /* the current document has begun */
    int eod_pending;  /* line/nul: the last piece ended a document */
    int newlines;     /* blank: newlines in the current white-space run */
} TextScanner;

void scan_init(TextScanner *s, TextInput *in, int doc_mode);
/* Cut out the user symbols of tok (which must outlive the scanner): each
 * is a piece of its own, with s->symbol set to its id. */
void scan_symbols(TextScanner *s, const Tokenizer *tok);
void scan_free(TextScanner *s);
/* SCAN_PIECE (with *piece, *len set, and s->symbol the id of the user
 * symbol it is, else 0), SCAN_EOD, SCAN_END, or -1 on error. */
int scan_next(TextScanner *s, const uint8_t **piece, size_t *len);

/* Parse "line", "blank", "nul"; -1 if unknown. */
int doc_mode_parse(const char *name, int *mode);

#endif
