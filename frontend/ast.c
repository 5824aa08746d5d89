/* ast.c: AST constructors (used by the grammar actions) and the `h2c dump-ast` printer.
 * The dump is stable: one node per line, line:col first, expressions as s-expressions. */
#include "frontend.h"

#include <string.h>

Expr *ast_expr(Arena *a, ExprKind k, Loc loc) {
    Expr *e = ARENA_NEW(a, Expr);
    e->kind = k;
    e->loc = loc;
    return e;
}

Stmt *ast_stmt(Arena *a, StmtKind k, Loc loc) {
    Stmt *s = ARENA_NEW(a, Stmt);
    s->kind = k;
    s->loc = loc;
    return s;
}

Item *ast_item(Arena *a, ItemKind k, Loc loc) {
    Item *it = ARENA_NEW(a, Item);
    it->kind = k;
    it->loc = loc;
    return it;
}

const char *block_kind_name(BlockKind k) {
    static const char *const names[BK_COUNT_] = {"hardware", "model", "workload", "sparsity", "explore"};
    return k < BK_COUNT_ ? names[k] : "?";
}


void expr_print(FILE *out, const Expr *e) {
    switch (e->kind) {
    case EX_NUM:
        fputs(e->num.text, out);
        if (e->num.unit)
            fprintf(out, " %s", e->num.unit);
        break;
    case EX_STR:
        write_quoted(out, e->str);
        break;
    case EX_NAME:
        fputs(e->name, out);
        break;
    case EX_NEG:
        fputs("(- ", out);
        expr_print(out, e->bin.lhs);
        fputc(')', out);
        break;
    case EX_BIN:
        fprintf(out, "(%c ", e->bin.op);
        expr_print(out, e->bin.lhs);
        fputc(' ', out);
        expr_print(out, e->bin.rhs);
        fputc(')', out);
        break;
    case EX_LIST:
    case EX_TUPLE:
        fputs(e->kind == EX_LIST ? "[" : "(tuple", out);
        for (int i = 0; i < e->list.count; i++) {
            if (i || e->kind == EX_TUPLE)
                fputs(e->kind == EX_LIST ? ", " : " ", out);
            expr_print(out, e->list.items[i]);
        }
        fputs(e->kind == EX_LIST ? "]" : ")", out);
        break;
    }
}

static void indent_loc(FILE *out, Loc loc, int depth) {
    char pos[32];
    snprintf(pos, sizeof pos, "%d:%d", loc.line, loc.col);
    fprintf(out, "%-8s", pos);
    for (int i = 0; i < depth; i++)
        fputs("  ", out);
}

static void dump_stmts(FILE *out, const Stmt *s, int depth) {
    for (; s; s = s->next) {
        indent_loc(out, s->loc, depth);
        switch (s->kind) {
        case ST_ASSIGN:
            fprintf(out, "%s = ", s->assign.path);
            expr_print(out, s->assign.value);
            if (s->assign.source) {
                fputs(" from ", out);
                write_quoted(out, s->assign.source);
            }
            fputc('\n', out);
            break;
        case ST_BLOCK:
            fprintf(out, "%s\n", s->block.name);
            dump_stmts(out, s->block.body, depth + 1);
            break;
        case ST_OP:
            fprintf(out, "op %s = %s(", s->op.name, s->op.callee);
            for (int i = 0; i < s->op.nargs; i++) {
                if (i)
                    fputs(", ", out);
                if (s->op.args[i].name)
                    fprintf(out, "%s = ", s->op.args[i].name);
                expr_print(out, s->op.args[i].value);
            }
            fputs(")\n", out);
            break;
        }
    }
}

static void dump_one(FILE *out, const AstFile *f) {
    fprintf(out, "file ");
    write_quoted(out, f->src->name);
    fputc('\n', out);
    for (const Item *it = f->items; it; it = it->next) {
        indent_loc(out, it->loc, 1);
        switch (it->kind) {
        case IT_IMPORT:
            fputs("import ", out);
            write_quoted(out, it->import.path);
            fputc('\n', out);
            break;
        case IT_USE:
            fprintf(out, "use %s %s\n", it->use.what, it->use.name);
            break;
        case IT_BLOCK:
            fprintf(out, "%s", block_kind_name(it->block.bk));
            if (it->block.name)
                fprintf(out, " %s", it->block.name);
            fputc('\n', out);
            dump_stmts(out, it->block.body, 2);
            break;
        }
    }
}

static void dump_rec(FILE *out, const AstFile *f, const AstFile **seen, int *nseen, int cap) {
    for (int i = 0; i < *nseen; i++)
        if (seen[i] == f)
            return;
    if (*nseen < cap)
        seen[(*nseen)++] = f;
    dump_one(out, f);
    for (int i = 0; i < f->nimports; i++)
        dump_rec(out, f->imports[i], seen, nseen, cap);
}

void ast_dump(FILE *out, const AstFile *f) {
    const AstFile *seen[256];
    int nseen = 0;
    dump_rec(out, f, seen, &nseen, 256);
}
