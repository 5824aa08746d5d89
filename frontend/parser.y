/* parser.y: the .h2 grammar (bison, pure, with locations). Actions only build the AST
 * (ast.c); names, units and shapes are checked in sema.c. Errors recover at ';' and '}' so one
 * run reports several mistakes. All values live in the session arena, so there is nothing for a
 * %destructor to free when the parser discards them. */
%define api.pure full
%define api.location.type {Loc}
%define parse.error detailed
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

/* Bison's stack lives in the arena too; exceeding YYMAXDEPTH is "memory exhausted", reported
   as nesting too deep. */
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
        diag_error(ls->diag, *loc, "nesting too deep (more than %d levels)", YYMAXDEPTH / 2);
    else
        diag_error(ls->diag, *loc, "%s", msg);
}

static void add_item(LexState *ls, Item *it) {
    if (!it)
        return;
    *ls->tail = it;
    ls->tail = &it->next;
}

static Expr *bin(LexState *ls, char op, Expr *l, Expr *r, Loc loc) {
    Expr *e = ast_expr(A, EX_BIN, loc);
    e->bin.op = op;
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
    | blockkw opt_name '{' stmts '}' {
                                  $$ = ast_item(A, IT_BLOCK, @1);
                                  $$->block.bk = $1;
                                  $$->block.name = $2;
                                  $$->block.name_loc = $2 ? @2 : @1;
                                  $$->block.body = $4.head;
                                  $$->block.end_loc = @5;
                                }
    | error ';'                 { $$ = NULL; yyerrok; }
    | error '}'                 { $$ = NULL; yyerrok; }
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
    | IDENT '{' stmts '}'       {
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
    | expr '+' expr             { $$ = bin(ls, '+', $1, $3, @$); }
    | expr '-' expr             { $$ = bin(ls, '-', $1, $3, @$); }
    | expr '*' expr             { $$ = bin(ls, '*', $1, $3, @$); }
    | expr '/' expr             { $$ = bin(ls, '/', $1, $3, @$); }
    | '-' expr %prec NEG        { $$ = ast_expr(A, EX_NEG, @$); $$->bin.op = '-'; $$->bin.lhs = $2; }
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
