/* lexstate.h: state shared by the flex scanner and the bison parser (private to frontend/). */
#ifndef H2C_LEXSTATE_H
#define H2C_LEXSTATE_H

#include "frontend.h"

/* Bounds that keep every recursive walk of an expression (sema's eval, the AST printer) shallow:
 * brackets nested deeper than LEX_MAX_NEST, or more than LEX_MAX_OPS operators in one statement
 * (a chain a + b + ... nests one level per operator), are an error. */
enum { LEX_MAX_NEST = 256, LEX_MAX_OPS = 1000 };

typedef struct LexState {
    Session *session;       /* owns the arena */
    Diag *diag;
    SrcFile *src;           /* the file being read */
    AstFile *file;          /* where items go */
    Item **tail;            /* where the next item is linked */
    int line, col;          /* position of the next byte */
    Loc comment_start;      /* for "unterminated comment" */
    Loc prev, cur;          /* the last two tokens returned, for "missing ';'" after prev */
    int err_line;           /* line of the last error reported in this file (0: none) */
    Loc block_err;          /* the first error (reported or not) since the last top-level '{' */
    bool halted;            /* input ended early; the lexer has said why */
    int depth;              /* brackets open: ( [ { */
    int nops;               /* operators since the last ; { or } */
    Loc open[LEX_MAX_NEST]; /* where each open bracket is, innermost last */
    char open_kind[LEX_MAX_NEST]; /* and which bracket it is */
} LexState;

static inline Arena *lex_arena(LexState *ls) { return &ls->session->arena; }

/* Length of the numeric literal at the start of s (decimal with optional exponent, or hex). */
static inline size_t lex_number_len(const char *s, size_t len) {
    size_t k = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        k = 2;
        while (k < len && ((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f') || (s[k] >= 'A' && s[k] <= 'F')))
            k++;
        return k;
    }
    while (k < len && ((s[k] >= '0' && s[k] <= '9') || s[k] == '.'))
        k++;
    if (k < len && (s[k] == 'e' || s[k] == 'E')) {
        size_t j = k + 1;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < len && s[j] >= '0' && s[j] <= '9') {
            while (j < len && s[j] >= '0' && s[j] <= '9')
                j++;
            k = j;
        }
    }
    return k;
}

/* Resolves \" \\ \n \t in a string literal body; reports bad escapes and NUL bytes. */
const char *lex_unescape(LexState *ls, const char *s, size_t n, Loc loc);
/* Reports an error in the file being read and remembers its line (the parser reports one
 * syntax error per line, so a bad token does not also draw a parse error). */
void lex_error(LexState *ls, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Remembers an error at `at` for lex_block_broken (lex_error calls it). */
void lex_note_error(LexState *ls, Loc at);
/* True if an error was found between a top-level block's '{' and its closing brace at `end`. */
bool lex_block_broken(const LexState *ls, Loc end);

#endif
