/* parser.y: the .h2 grammar (bison, pure, with locations). Actions only build the AST
 * (ast.c); names, units and shapes are checked in sema.c. Errors recover at ';', '}' and the
 * keyword that starts an item, so one run reports several mistakes. All values live in the
 * session arena, so there is nothing for a %destructor to free when the parser discards them. */
%define api.pure full
%define api.location.type {Loc}
%define parse.error custom
%define lr.type canonical-lr
%define lr.default-reduction consistent
%locations
%expect 0
%parse-param {void *scanner} {LexState *ls}
%lex-param {void *scanner}

%code requires {
#include "frontend.h"
#include "lexstate.h"
typedef struct StmtList { Stmt *head, *tail; } StmtList;
typedef struct ExprVec { Expr **items; int count, cap; } ExprVec;
typedef struct ArgVec { Arg *items; int count, cap; } ArgVec;
}

%code provides {
int yylex(YYSTYPE *lval, Loc *lloc, void *scanner);
}

%code {
#include <string.h>

/* Bison's stack lives in the arena too. The lexer bounds bracket nesting well below YYMAXDEPTH,
   so only a long run of unary minus signs can exhaust it ("memory exhausted"). */
#define YYMAXDEPTH 2000
#define YYMALLOC(n) arena_alloc(lex_arena(ls), (n))
#define YYFREE(p) ((void)(p))
#define A lex_arena(ls)

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                  \
    do {                                                             \
        if (N) {                                                     \
            (Cur) = loc_span(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));    \
        } else {                                                     \
            (Cur) = YYRHSLOC(Rhs, 0);                                \
            (Cur).col += (Cur).len;                                  \
            (Cur).len = 0;                                           \
        }                                                            \
    } while (0)

static void yyerror(Loc *loc, void *scanner, LexState *ls, const char *msg) {
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)
        lex_error(ls, *loc, "expression nested too deeply");
    else
        lex_error(ls, *loc, "%s", msg);
}

static void add_item(LexState *ls, Item *it) {
    if (!it)
        return;
    *ls->tail = it;
    ls->tail = &it->next;
}

static Expr *bin(LexState *ls, char op, Expr *l, Expr *r, Loc loc, Loc op_loc) {
    Expr *e = ast_expr(A, EX_BIN, loc);
    e->bin.op = op;
    e->bin.op_loc = op_loc;
    e->bin.lhs = l;
    e->bin.rhs = r;
    return e;
}
}

%union {
    const char *str;
    struct { const char *text; const char *unit; Loc unit_loc; } num;
    Expr *expr;
    Stmt *stmt;
    StmtList stmts;
    Item *item;
    ExprVec exprs;
    ArgVec args;
    Arg arg;
    int bk;
}

%token <str> IDENT "identifier"
%token <str> STRING "string"
%token <num> NUMBER "number"
%token IMPORT "'import'" USE "'use'" HARDWARE "'hardware'" MODEL "'model'" WORKLOAD "'workload'"
%token SPARSITY "'sparsity'" EXPLORE "'explore'" OP "'op'" FROM "'from'"

%type <expr> expr primary
%type <stmt> stmt
%type <stmts> stmts
%type <item> item
%type <exprs> exprs
%type <args> args arglist
%type <arg> arg
%type <bk> blockkw
%type <str> opt_name path usekind opt_source name

%left '+' '-'
%left '*' '/'
%precedence NEG

%%

file
    : %empty
    | file item                 { add_item(ls, $2); }
    ;

item
    : IMPORT STRING ';'       { $$ = ast_item(A, IT_IMPORT, @1); $$->import.path = $2; $$->import.path_loc = @2; }
    | USE usekind name ';'    {
                                  $$ = ast_item(A, IT_USE, @1);
                                  $$->use.what = $2; $$->use.what_loc = @2;
                                  $$->use.name = $3; $$->use.name_loc = @3;
                                }
    | blockkw opt_name '{' stmts block_close {
                                  $$ = ast_item(A, IT_BLOCK, @1);
                                  $$->block.bk = $1;
                                  $$->block.name = $2;
                                  $$->block.name_loc = $2 ? @2 : @1;
                                  $$->block.body = $4.head;
                                  $$->block.end_loc = @5;
                                  $$->block.broken = lex_block_broken(ls, @5);
                                }
    | error ';'                 { $$ = NULL; /* no yyerrok: likely inside a block with a broken head */ }
    | error '}'                 { $$ = NULL; yyerrok; }
    | error item                { $$ = $2; }
    ;

usekind
    : HARDWARE                { $$ = "hardware"; }
    | MODEL                   { $$ = "model"; }
    | WORKLOAD                { $$ = "workload"; }
    | SPARSITY                { $$ = "sparsity"; }
    | EXPLORE                 { $$ = "explore"; }
    | IDENT
    ;

name
    : IDENT
    ;

blockkw
    : HARDWARE                { $$ = BK_HARDWARE; }
    | MODEL                   { $$ = BK_MODEL; }
    | WORKLOAD                { $$ = BK_WORKLOAD; }
    | SPARSITY                { $$ = BK_SPARSITY; }
    | EXPLORE                 { $$ = BK_EXPLORE; }
    ;

opt_name
    : %empty                    { $$ = NULL; }
    | IDENT
    ;

stmts
    : %empty                    { $$.head = $$.tail = NULL; }
    | stmts stmt                {
                                  $$ = $1;
                                  if ($2) {
                                      if ($$.tail) $$.tail->next = $2; else $$.head = $2;
                                      $$.tail = $2;
                                  }
                                }
    ;

stmt
    : path '=' expr opt_source ';' {
                                  $$ = ast_stmt(A, ST_ASSIGN, @1);
                                  $$->assign.path = $1; $$->assign.path_loc = @1;
                                  $$->assign.value = $3;
                                  $$->assign.source = $4; $$->assign.source_loc = @4;
                                }
    | IDENT '{' stmts block_close {
                                  $$ = ast_stmt(A, ST_BLOCK, @1);
                                  $$->block.name = $1; $$->block.name_loc = @1;
                                  $$->block.body = $3.head;
                                }
    | OP IDENT '=' IDENT '(' args ')' ';' {
                                  $$ = ast_stmt(A, ST_OP, @1);
                                  $$->op.name = $2; $$->op.name_loc = @2;
                                  $$->op.callee = $4; $$->op.callee_loc = @4;
                                  $$->op.args = $6.items; $$->op.nargs = $6.count;
                                }
    | error ';'                 { $$ = NULL; yyerrok; }
    ;

/* A block's '}', also after an error in its last statement, so that the block still ends there */
block_end
    : '}'
    | error '}'                 { @$ = @2; yyerrok; }
    ;

/* A ';' after a block's '}' is a mistake people make often: say so, and go on as if it were not there */
block_close
    : block_end
    | block_end ';'             {
                                  @$ = @1;
                                  /* an error, but one that leaves nothing in doubt: the block stays whole
                                     (lex_error would mark it broken) */
                                  diag_error(ls->diag, @2, "no ';' after a block: it ends at its '}'");
                                  ls->err_line = @2.line;
                                }
    ;

path
    : IDENT
    | path '.' IDENT            { $$ = arena_printf(A, "%s.%s", $1, $3); }
    ;

opt_source
    : %empty                    { $$ = NULL; }
    | FROM STRING             { $$ = $2; }
    ;

args
    : %empty                    { $$.items = NULL; $$.count = $$.cap = 0; }
    | arglist
    ;

arglist
    : arg                       { $$.items = NULL; $$.count = $$.cap = 0; VEC_PUSH(A, $$.items, $$.count, $$.cap, $1); }
    | arglist ',' arg           { $$ = $1; VEC_PUSH(A, $$.items, $$.count, $$.cap, $3); }
    ;

arg
    : expr                      { $$.name = NULL; $$.name_loc = @1; $$.value = $1; }
    | IDENT '=' expr            { $$.name = $1; $$.name_loc = @1; $$.value = $3; }
    ;

expr
    : primary
    | expr '+' expr             { $$ = bin(ls, '+', $1, $3, @$, @2); }
    | expr '-' expr             { $$ = bin(ls, '-', $1, $3, @$, @2); }
    | expr '*' expr             { $$ = bin(ls, '*', $1, $3, @$, @2); }
    | expr '/' expr             { $$ = bin(ls, '/', $1, $3, @$, @2); }
    | '-' expr %prec NEG        { $$ = ast_expr(A, EX_NEG, @$); $$->bin.op = '-'; $$->bin.lhs = $2; $$->bin.op_loc = @1; }
    ;

primary
    : NUMBER                    {
                                  $$ = ast_expr(A, EX_NUM, @1);
                                  $$->num.text = $1.text; $$->num.unit = $1.unit; $$->num.unit_loc = $1.unit_loc;
                                }
    | STRING                    { $$ = ast_expr(A, EX_STR, @1); $$->str = $1; }
    | IDENT                     { $$ = ast_expr(A, EX_NAME, @1); $$->name = $1; }
    | '(' expr ')'              { $$ = $2; }
    | '(' expr ',' exprs ')'    {
                                  $$ = ast_expr(A, EX_TUPLE, @$);
                                  ExprVec v = {NULL, 0, 0};
                                  VEC_PUSH(A, v.items, v.count, v.cap, $2);
                                  for (int i = 0; i < $4.count; i++)
                                      VEC_PUSH(A, v.items, v.count, v.cap, $4.items[i]);
                                  $$->list.items = v.items; $$->list.count = v.count;
                                }
    | '[' ']'                   { $$ = ast_expr(A, EX_LIST, @$); }
    | '[' exprs ']'             { $$ = ast_expr(A, EX_LIST, @$); $$->list.items = $2.items; $$->list.count = $2.count; }
    | '[' exprs ',' ']'         { $$ = ast_expr(A, EX_LIST, @$); $$->list.items = $2.items; $$->list.count = $2.count; }
    ;

exprs
    : expr                      { $$.items = NULL; $$.count = $$.cap = 0; VEC_PUSH(A, $$.items, $$.count, $$.cap, $1); }
    | exprs ',' expr            { $$ = $1; VEC_PUSH(A, $$.items, $$.count, $$.cap, $3); }
    ;

%%

static bool starts_item(yysymbol_kind_t t) {
    return t == YYSYMBOL_IMPORT || t == YYSYMBOL_USE || t == YYSYMBOL_HARDWARE || t == YYSYMBOL_MODEL ||
           t == YYSYMBOL_WORKLOAD || t == YYSYMBOL_SPARSITY || t == YYSYMBOL_EXPLORE;
}

static bool is_keyword(yysymbol_kind_t t) {
    return starts_item(t) || t == YYSYMBOL_OP || t == YYSYMBOL_FROM;
}

/* The text of the token at `at`, from the file being read ("" if it is not there). */
static void token_text(const LexState *ls, Loc at, char *buf, size_t n) {
    buf[0] = 0;
    const char *p = ls->src->text, *end = p + ls->src->len;
    for (int l = 1; l < at.line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return;
        p = nl + 1;
    }
    if (at.col < 1 || at.len <= 0 || at.col - 1 >= end - p)
        return;
    p += at.col - 1;
    size_t len = (size_t)at.len < (size_t)(end - p) ? (size_t)at.len : (size_t)(end - p);
    len = len < n - 1 ? len : n - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
}

/* "nmp.channels-2;": a '-' typed for '=' makes one name. If `name` ends in -NUMBER, the hint. */
static bool minus_for_equals(const char *name, char *hint, size_t n) {
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return false;
    snprintf(hint, n, "'%s' is one name (a '-' between name characters is part of it); did you mean '%.*s = %s'?",
             name, (int)(dash - name), name, dash + 1);
    return true;
}

/* Bison's "unexpected X, expecting A or B", with changes for what people get wrong most:
   - a ';' missing at the end of a line is reported after the last token of that line, not at
     the start of the next;
   - a block that runs into the next item, or into the end of the file, is missing its '}': say
     so, and point at its '{';
   - a keyword where a name may go says that it is a keyword;
   - a name where an item should start is taken for a misspelt block keyword, and "a-2" where '='
     was wanted for "a = 2";
   - one syntax error per line, so one mistake (or a bad token the lexer already reported) does
     not draw a cascade of them. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, LexState *ls) {
    (void)scanner;
    yysymbol_kind_t tok = yypcontext_token(ctx);
    if (tok == YYSYMBOL_YYEOF && ls->halted)
        return 0;   /* the lexer ended the input early and said why */
    Loc at = *yypcontext_location(ctx);
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    /* after a block's '}' the grammar takes a ';' only to say it is not needed: never ask for one */
    char prev[8] = "";
    Loc last = tok == YYSYMBOL_YYEOF ? ls->cur : ls->prev;  /* the token before the unexpected one */
    if (last.file)
        token_text(ls, last, prev, sizeof prev);
    if (strcmp(prev, "}") == 0) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (exp[i] != YYTRANSLATE(';'))
                exp[k++] = exp[i];
        n = k;
    }
    bool want_semi = false, want_ident = false, want_close = false;
    for (int i = 0; i < n; i++) {
        want_semi |= exp[i] == YYTRANSLATE(';');
        want_close |= exp[i] == YYTRANSLATE('}');
        want_ident |= exp[i] == YYSYMBOL_IDENT;
    }
    bool note_open = tok == YYSYMBOL_YYEOF;
    bool want_item = false, want_equals = false;
    for (int i = 0; i < n; i++) {
        want_item |= starts_item(exp[i]);
        want_equals |= exp[i] == YYTRANSLATE('=');
    }
    char msg[768], word[128], hint[512];
    if (want_semi && ls->prev.file && at.line > ls->prev.line) {
        at = ls->prev;
        at.col += at.len;
        at.len = 0;
        snprintf(msg, sizeof msg, "syntax error, missing ';' before %s", yysymbol_name(tok));
    } else if (want_close && starts_item(tok)) {
        snprintf(msg, sizeof msg, "syntax error, missing '}' before %s", yysymbol_name(tok));
        note_open = true;
    } else if (tok == YYSYMBOL_IDENT && want_item && (token_text(ls, at, word, sizeof word), word[0])) {
        /* an item cannot start with a name: most often a misspelt block keyword */
        static const char *const items[] = {"hardware", "model", "workload", "sparsity", "explore", "import", "use", NULL};
        const char *sug = closest_word(word, items);
        if (sug)
            snprintf(msg, sizeof msg, "syntax error, unknown item '%s'; did you mean '%s'?", word, sug);
        else
            snprintf(msg, sizeof msg, "syntax error, unknown item '%s' (a file holds import and use items, and "
                     "hardware, model, workload, sparsity and explore blocks)", word);
    } else if (want_equals && ls->prev.file && (token_text(ls, ls->prev, word, sizeof word), 1) &&
               minus_for_equals(word, hint, sizeof hint)) {
        snprintf(msg, sizeof msg, "syntax error, unexpected %s, expecting '='; %s", yysymbol_name(tok), hint);
    } else {
        /* the tokens that start an expression read better as one "a value" */
        const char *names[YYNTOKENS];
        int m = 0;
        bool want_value = false;
        for (int i = 0; i < n; i++)
            want_value |= exp[i] == YYSYMBOL_NUMBER;
        if (want_value)
            names[m++] = "a value";
        for (int i = 0; i < n; i++)
            if (!want_value || !(exp[i] == YYSYMBOL_NUMBER || exp[i] == YYSYMBOL_STRING || exp[i] == YYSYMBOL_IDENT ||
                                 exp[i] == YYTRANSLATE('-') || exp[i] == YYTRANSLATE('(') || exp[i] == YYTRANSLATE('[')))
                names[m++] = yysymbol_name(exp[i]);
        if (m > 4) {
            /* after a value, where an operator could go too: name the punctuation that would go on */
            int p = 0;
            for (int i = 0; i < n; i++)
                if (exp[i] == YYTRANSLATE(',') || exp[i] == YYTRANSLATE(';') || exp[i] == YYTRANSLATE(')') ||
                    exp[i] == YYTRANSLATE(']'))
                    names[p++] = yysymbol_name(exp[i]);
            m = p;
        }
        int k = snprintf(msg, sizeof msg, "syntax error, unexpected %s", yysymbol_name(tok));
        for (int i = 0; i < m && m <= 4; i++)
            k += snprintf(msg + k, sizeof msg - (size_t)k, "%s%s", i ? " or " : ", expecting ", names[i]);
        if (is_keyword(tok) && want_ident)
            snprintf(msg + k, sizeof msg - (size_t)k, " (%s is a keyword, not a name)", yysymbol_name(tok));
    }
    if (at.line == ls->err_line) {
        lex_note_error(ls, at);     /* not reported, but the block it is in is still broken */
        return 0;
    }
    lex_error(ls, at, "%s", msg);
    if (note_open && ls->depth > 0) {
        int i = ls->depth - 1;
        diag_note(ls->diag, ls->open[i], "this '%c' is not closed", ls->open_kind[i]);
    }
    return 0;
}
