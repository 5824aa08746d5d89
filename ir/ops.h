/* ops.h: the IR's op set, one X-macro table. The enum, the names, the printer's and reader's
 * spellings and the verifier's arity and operand checks are all generated from it (QBE ops.h).
 *
 * X(ID, "spelling", min inputs, max inputs, operand, doc)
 *   operand: what the op reads besides its inputs: OPND_NONE, OPND_WEIGHT (a weight tensor),
 *            OPND_KV (a KV-cache tensor). */
#ifndef H2C_IR_OPS_H
#define H2C_IR_OPS_H

#define IR_OPS(X)                                                                                        \
    X(FC, "fc", 1, 16, OPND_WEIGHT, "y = x W: a GEMM [B=1, M=rows, N=out, K=in] against a weight")        \
    X(ATTN_SCORE, "attn_score", 2, 2, OPND_KV, "S = Q K^T per KV head, GQA folded into M: [B, M, N=ctx, K=head_dim]") \
    X(ATTN_VALUE, "attn_value", 2, 2, OPND_KV, "O = P V per KV head: [B, M, N=head_dim, K=ctx]")          \
    X(SOFTMAX, "softmax", 1, 1, OPND_NONE, "row softmax of scores: [B, M, N=ctx, 1]")                      \
    X(NORM, "norm", 1, 1, OPND_WEIGHT, "RMS or layer norm over a row with its scale (and shift): [1, rows, width, 1]") \
    X(ACTIVATION, "activation", 1, 1, OPND_NONE, "element-wise silu/gelu/relu: [1, rows, width, 1]")       \
    X(ADD, "add", 2, 2, OPND_NONE, "element-wise sum: [1, rows, width, 1]")                               \
    X(MUL, "mul", 2, 2, OPND_NONE, "element-wise product: [1, rows, width, 1]")                           \
    X(ATTN_TILE, "attn_tile", 1, 1, OPND_KV, "partial attention of queries over a KV range, with its log-sum-exp") \
    X(ATTN_MERGE, "attn_merge", 1, 64, OPND_NONE, "merges partial attention states by the log-sum-exp rule") \
    X(PAGE_SELECT, "page_select", 1, 1, OPND_KV, "scores KV pages by min/max keys and keeps the top-k")       \
    X(EMBEDDING, "embedding", 1, 1, OPND_WEIGHT, "rows of the vocab x hidden table for the token ids: [1, rows, hidden, 1]") \
    X(ROPE, "rope", 1, 1, OPND_NONE, "rotary position embedding of queries or keys: [1, rows, width, 1]")

typedef enum OpCode {
#define X(id, name, lo, hi, opnd, doc) OP_##id,
    IR_OPS(X)
#undef X
    OP_COUNT_
} OpCode;

#endif
