/* lexstate.h: state shared by the flex scanner and the bison parser (private to frontend/). */
#ifndef H2C_LEXSTATE_H
#define H2C_LEXSTATE_H

#include "frontend.h"

typedef struct LexState {
    Session *session;       /* owns the arena */
    Diag *diag;
    SrcFile *src;           /* the file being read */
    AstFile *file;          /* where items go */
    Item **tail;            /* where the next item is linked */
    int line, col;          /* position of the next byte */
    Loc comment_start;      /* for "unterminated comment" */
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

/* Resolves \" \\ \n \t \xHH in a string literal body; reports bad escapes and NUL bytes. */
const char *lex_unescape(LexState *ls, const char *s, size_t n, Loc loc);

#endif
