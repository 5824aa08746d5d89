/* llvm.c: the LLVM target. Builds every kernel of a schedule into one LLVM module through the
 * LLVM-C API (llvm-14), verifies it, optimises it with default<O3> for the host CPU and its
 * features, and either prints it (.ll) or JIT-compiles it with ORC LLJIT. LLVM 14's C API cannot
 * mark float adds reassociable, so the hot reductions are vectorised here by hand: vector types
 * sized from the host, llvm.fma, several rows and accumulators at once, fp16 widened with F16C.
 * The other kernels follow the C target's order of operations exactly (docs/kernels.md). */
#include "kernels.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- code generation helpers */

/* What building one kernel needs. */
typedef struct Cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;       /* the kernel's instructions */
    LLVMBuilderRef ab;      /* allocas, at the end of the entry block */
    LLVMValueRef fn;        /* the kernel being built */
    LLVMValueRef bufs, args;/* its two parameters */
    LLVMBasicBlockRef start;/* the first block after the allocas */
    const char *name;       /* its symbol */
    const char *cpu, *features; /* for the function attributes */
    int vl;                 /* fp32 lanes of the hot loops' vectors */
    bool f16c;              /* widen fp16 with fpext (vcvtph2ps); else with integer ops */
    bool lut16;             /* AVX-512 with 16 lanes: int4 through vpermps */
    LLVMTypeRef i1, i8, i16, i32, i64, f16, f32, f64, vf; /* vf: <vl x float> */
} Cg;

static LLVMTypeRef vec(LLVMTypeRef t, int n) { return LLVMVectorType(t, (unsigned)n); }
static LLVMTypeRef ptr(LLVMTypeRef t) { return LLVMPointerType(t, 0); }
static bool is_vec(LLVMTypeRef t) { return LLVMGetTypeKind(t) == LLVMVectorTypeKind; }
static int lanes(LLVMValueRef v) { return is_vec(LLVMTypeOf(v)) ? (int)LLVMGetVectorSize(LLVMTypeOf(v)) : 1; }

/* Bytes of a scalar type, the alignment every load and store uses (vectors: of the element). */
static unsigned align_of(LLVMTypeRef t) {
    if (is_vec(t))
        t = LLVMGetElementType(t);
    switch (LLVMGetTypeKind(t)) {
    case LLVMHalfTypeKind: return 2;
    case LLVMFloatTypeKind: return 4;
    case LLVMDoubleTypeKind: return 8;
    case LLVMIntegerTypeKind: return LLVMGetIntTypeWidth(t) / 8 ? LLVMGetIntTypeWidth(t) / 8 : 1;
    case LLVMPointerTypeKind: return 8;
    default: return 1;
    }
}

static LLVMValueRef ki64(Cg *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }
static LLVMValueRef ki32(Cg *c, int v) { return LLVMConstInt(c->i32, (unsigned long long)(int64_t)v, 1); }

/* An integer or float constant of type t, every lane if t is a vector. */
static LLVMValueRef kint(LLVMTypeRef t, int64_t v) {
    if (!is_vec(t))
        return LLVMConstInt(t, (unsigned long long)v, 1);
    LLVMValueRef e = kint(LLVMGetElementType(t), v), l[64];
    unsigned n = LLVMGetVectorSize(t);
    for (unsigned i = 0; i < n; i++)
        l[i] = e;
    return LLVMConstVector(l, n);
}

static LLVMValueRef kfp(LLVMTypeRef t, double v) {
    if (!is_vec(t))
        return LLVMConstReal(t, v);
    LLVMValueRef e = kfp(LLVMGetElementType(t), v), l[64];
    unsigned n = LLVMGetVectorSize(t);
    for (unsigned i = 0; i < n; i++)
        l[i] = e;
    return LLVMConstVector(l, n);
}

/* A constant shuffle mask. */
static LLVMValueRef kmask(Cg *c, const int *idx, int n) {
    LLVMValueRef l[64];
    for (int i = 0; i < n; i++)
        l[i] = ki32(c, idx[i]);
    return LLVMConstVector(l, (unsigned)n);
}

static LLVMValueRef splat(Cg *c, LLVMValueRef s, int n, const char *name) {
    LLVMTypeRef vt = vec(LLVMTypeOf(s), n);
    LLVMValueRef v = LLVMBuildInsertElement(c->b, LLVMGetUndef(vt), s, ki32(c, 0), "");
    return LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(vt), LLVMConstNull(vec(c->i32, n)), name);
}

static LLVMValueRef at(Cg *c, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef idx, const char *name) {
    return LLVMBuildInBoundsGEP2(c->b, elem, base, &idx, 1, name);
}

static LLVMValueRef ld(Cg *c, LLVMTypeRef t, LLVMValueRef p, const char *name) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, t, p, name);
    LLVMSetAlignment(v, align_of(t));
    return v;
}

static void st(Cg *c, LLVMValueRef v, LLVMValueRef p) {
    LLVMValueRef s = LLVMBuildStore(c->b, v, p);
    LLVMSetAlignment(s, align_of(LLVMTypeOf(v)));
}

/* Element i of an array of elem at base. */
static LLVMValueRef ld_at(Cg *c, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef i, const char *name) {
    return ld(c, elem, at(c, elem, base, i, ""), name);
}

static void st_at(Cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i) {
    st(c, v, at(c, LLVMTypeOf(v), base, i, ""));
}

/* n elements of elem from p (an elem pointer) as one vector. */
static LLVMValueRef vld(Cg *c, LLVMTypeRef elem, int n, LLVMValueRef p, const char *name) {
    LLVMTypeRef vt = vec(elem, n);
    LLVMValueRef vp = LLVMBuildBitCast(c->b, p, ptr(vt), "");
    return ld(c, vt, vp, name);
}

static void vst(Cg *c, LLVMValueRef v, LLVMValueRef p) {
    LLVMValueRef vp = LLVMBuildBitCast(c->b, p, ptr(LLVMTypeOf(v)), "");
    st(c, v, vp);
}

/* A local variable (an alloca in the entry block, promoted to a register by the optimiser). */
static LLVMValueRef var(Cg *c, LLVMTypeRef t, const char *name, LLVMValueRef init) {
    LLVMValueRef a = LLVMBuildAlloca(c->ab, t, name);
    LLVMSetAlignment(a, is_vec(t) ? 64 : align_of(t));
    if (init)
        st(c, init, a);
    return a;
}

static LLVMValueRef get(Cg *c, LLVMValueRef v, const char *name) { return ld(c, LLVMGetAllocatedType(v), v, name); }

/* A local array of n elements. */
static LLVMValueRef local_array(Cg *c, LLVMTypeRef elem, int64_t n, const char *name) {
    LLVMValueRef a = LLVMBuildArrayAlloca(c->ab, elem, ki64(c, n), name);
    LLVMSetAlignment(a, 64);
    return a;
}

static LLVMBasicBlockRef block(Cg *c, const char *name) { return LLVMAppendBasicBlockInContext(c->ctx, c->fn, name); }

/* for (i = from; i < to; i += step) { ... }: loop_begin returns i for the body, loop_end closes it. */
typedef struct Loop {
    LLVMValueRef iv;            /* the induction variable's alloca */
    int64_t step;
    LLVMBasicBlockRef cond, exit;
} Loop;

static LLVMValueRef loop_begin(Cg *c, Loop *l, const char *name, LLVMValueRef from, LLVMValueRef to, int64_t step) {
    char buf[64];
    l->iv = var(c, c->i64, name, from);
    l->step = step;
    snprintf(buf, sizeof buf, "%s.loop", name);
    l->cond = block(c, buf);
    snprintf(buf, sizeof buf, "%s.body", name);
    LLVMBasicBlockRef body = block(c, buf);
    snprintf(buf, sizeof buf, "%s.end", name);
    l->exit = block(c, buf);
    LLVMBuildBr(c->b, l->cond);
    LLVMPositionBuilderAtEnd(c->b, l->cond);
    LLVMValueRef i = get(c, l->iv, name);
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, to, ""), body, l->exit);
    LLVMPositionBuilderAtEnd(c->b, body);
    return i;
}

static void loop_end(Cg *c, Loop *l) {
    LLVMValueRef i = get(c, l->iv, "");
    st(c, LLVMBuildNSWAdd(c->b, i, ki64(c, l->step), ""), l->iv);
    LLVMBuildBr(c->b, l->cond);
    LLVMMoveBasicBlockAfter(l->exit, LLVMGetLastBasicBlock(c->fn));
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

/* if (cond) { ... } [else { ... }] */
typedef struct If {
    LLVMBasicBlockRef els, end;
} If;

static void if_begin(Cg *c, If *f, LLVMValueRef cond, const char *name) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s.then", name);
    LLVMBasicBlockRef then = block(c, buf);
    snprintf(buf, sizeof buf, "%s.else", name);
    f->els = block(c, buf);
    snprintf(buf, sizeof buf, "%s.end", name);
    f->end = block(c, buf);
    LLVMBuildCondBr(c->b, cond, then, f->els);
    LLVMPositionBuilderAtEnd(c->b, then);
}

static void if_else(Cg *c, If *f) {
    LLVMBuildBr(c->b, f->end);
    LLVMMoveBasicBlockAfter(f->els, LLVMGetLastBasicBlock(c->fn));
    LLVMPositionBuilderAtEnd(c->b, f->els);
    f->els = NULL;
}

static void if_end(Cg *c, If *f) {
    if (f->els) {   /* no else part */
        LLVMBuildBr(c->b, f->end);
        LLVMPositionBuilderAtEnd(c->b, f->els);
    }
    LLVMBuildBr(c->b, f->end);
    LLVMMoveBasicBlockAfter(f->end, LLVMGetLastBasicBlock(c->fn));
    LLVMPositionBuilderAtEnd(c->b, f->end);
}

/* A call of the intrinsic `iname` overloaded on type t. */
static LLVMValueRef intrinsic(Cg *c, const char *iname, LLVMTypeRef t, LLVMValueRef *args, int n, const char *name) {
    unsigned id = LLVMLookupIntrinsicID(iname, strlen(iname));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(c->ctx, id, &t, 1);
    return LLVMBuildCall2(c->b, ft, f, args, (unsigned)n, name);
}

static LLVMValueRef fma3(Cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc, const char *name) {
    LLVMValueRef args[3] = {a, b, acc};
    return intrinsic(c, "llvm.fma", LLVMTypeOf(a), args, 3, name);
}

/* A call of the libm function `fname` (one argument, same type back), as the C target calls it. */
static LLVMValueRef libm(Cg *c, const char *fname, LLVMValueRef x, const char *name) {
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMTypeRef ft = LLVMFunctionType(t, &t, 1, 0);
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, fname);
    if (!f)
        f = LLVMAddFunction(c->mod, fname, ft);
    return LLVMBuildCall2(c->b, ft, f, &x, 1, name);
}

static LLVMValueRef fadd(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildFAdd(c->b, a, b, n);
}
static LLVMValueRef fsub(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildFSub(c->b, a, b, n);
}
static LLVMValueRef fmul(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildFMul(c->b, a, b, n);
}
static LLVMValueRef fdiv(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildFDiv(c->b, a, b, n);
}
static LLVMValueRef iadd(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildNSWAdd(c->b, a, b, n);
}
static LLVMValueRef imul(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildNSWMul(c->b, a, b, n);
}
static LLVMValueRef icmp(Cg *c, LLVMIntPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildICmp(c->b, p, a, b, "");
}
static LLVMValueRef fcmp(Cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(c->b, p, a, b, "");
}
static LLVMValueRef sel(Cg *c, LLVMValueRef k, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return LLVMBuildSelect(c->b, k, a, b, n);
}
static LLVMValueRef smin(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return sel(c, icmp(c, LLVMIntSLT, a, b), a, b, n);
}
static LLVMValueRef smax(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *n) {
    return sel(c, icmp(c, LLVMIntSGT, a, b), a, b, n);
}

/* Buffer i of the kernel, as a pointer to elem. */
static LLVMValueRef buf(Cg *c, int i, LLVMTypeRef elem, const char *name) {
    LLVMTypeRef i8p = ptr(c->i8);
    LLVMValueRef p = ld_at(c, i8p, c->bufs, ki64(c, i), "");
    return LLVMBuildBitCast(c->b, p, ptr(elem), name);
}

static LLVMValueRef arg(Cg *c, int i, const char *name) { return ld_at(c, c->i64, c->args, ki64(c, i), name); }

/* fp16 bits (i16, or a vector of them) to float: fpext with F16C, else the C target's integer
 * rebias (exact; NaN made quiet as vcvtph2ps makes it). */
static LLVMValueRef f16_to_f32(Cg *c, LLVMValueRef h, const char *name) {
    int n = lanes(h);
    LLVMTypeRef ht = n > 1 ? vec(c->f16, n) : c->f16, ft = n > 1 ? vec(c->f32, n) : c->f32;
    LLVMTypeRef it = n > 1 ? vec(c->i32, n) : c->i32;
    if (c->f16c)
        return LLVMBuildFPExt(c->b, LLVMBuildBitCast(c->b, h, ht, ""), ft, name);
    LLVMValueRef w = LLVMBuildZExt(c->b, h, it, "");
    LLVMValueRef sign = LLVMBuildShl(c->b, LLVMBuildAnd(c->b, w, kint(it, 0x8000), ""), kint(it, 16), "sign");
    LLVMValueRef em = LLVMBuildAnd(c->b, w, kint(it, 0x7fff), "em");
    LLVMValueRef shifted = LLVMBuildShl(c->b, em, kint(it, 13), "");
    LLVMValueRef f = fmul(c, LLVMBuildBitCast(c->b, shifted, ft, ""), kfp(ft, 0x1p112), "");
    LLVMValueRef bits = LLVMBuildBitCast(c->b, f, it, "");
    LLVMValueRef nan = sel(c, icmp(c, LLVMIntUGT, em, kint(it, 0x7c00)), kint(it, 0x400000), kint(it, 0), "");
    LLVMValueRef special = LLVMBuildOr(c->b, LLVMBuildOr(c->b, kint(it, 0x7f800000), shifted, ""), nan, "");
    bits = sel(c, icmp(c, LLVMIntUGE, em, kint(it, 0x7c00)), special, bits, "");
    return LLVMBuildBitCast(c->b, LLVMBuildOr(c->b, bits, sign, ""), ft, name);
}

/* n elements of a KV row or key (f16 or f32) at p, as floats (n = 1: a scalar). */
static LLVMValueRef load_kv(Cg *c, KernelDType t, LLVMValueRef p, int n, const char *name) {
    if (t == KD_F32)
        return n > 1 ? vld(c, c->f32, n, p, name) : ld(c, c->f32, p, name);
    LLVMValueRef raw = n > 1 ? vld(c, c->i16, n, p, "") : ld(c, c->i16, p, "");
    return f16_to_f32(c, raw, name);
}

static LLVMTypeRef kv_type(Cg *c, KernelDType t) { return t == KD_F16 ? c->i16 : c->f32; }

/* Sum of a vector's lanes by halving (for the reassociated reductions). */
static LLVMValueRef hsum(Cg *c, LLVMValueRef v, const char *name) {
    int n = lanes(v);
    int idx[64];
    while (n > 1) {
        int h = n / 2;
        for (int i = 0; i < h; i++)
            idx[i] = i;
        LLVMValueRef lo = LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(LLVMTypeOf(v)), kmask(c, idx, h), "");
        for (int i = 0; i < h; i++)
            idx[i] = h + i;
        LLVMValueRef hi = LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(LLVMTypeOf(v)), kmask(c, idx, h), "");
        v = fadd(c, lo, hi, "");
        n = h;
    }
    return LLVMBuildExtractElement(c->b, v, ki32(c, 0), name);
}

/* Sum of a vector's lanes in order from 0.0, as the C target's lanes_sum. */
static LLVMValueRef lanes_sum(Cg *c, LLVMValueRef v, const char *name) {
    LLVMValueRef s = LLVMConstReal(c->f32, 0.0);
    for (int i = 0; i < lanes(v); i++)
        s = fadd(c, s, LLVMBuildExtractElement(c->b, v, ki32(c, i), ""), "");
    LLVMSetValueName2(s, name, strlen(name));
    return s;
}

/* Largest lane (ordered compares: NaN lanes are skipped). */
static LLVMValueRef hmax(Cg *c, LLVMValueRef v, const char *name) {
    int n = lanes(v);
    int idx[64];
    while (n > 1) {
        int h = n / 2;
        for (int i = 0; i < h; i++)
            idx[i] = i;
        LLVMValueRef lo = LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(LLVMTypeOf(v)), kmask(c, idx, h), "");
        for (int i = 0; i < h; i++)
            idx[i] = h + i;
        LLVMValueRef hi = LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(LLVMTypeOf(v)), kmask(c, idx, h), "");
        v = sel(c, fcmp(c, LLVMRealOGT, hi, lo), hi, lo, "");
        n = h;
    }
    return LLVMBuildExtractElement(c->b, v, ki32(c, 0), name);
}

/* exp(x) lane by lane, Cephes' expf (about 1 ulp) for x in [-87.3, 88.3]; below, the result is
 * tiny but not 0 (callers mask lanes that must be 0). */
static LLVMValueRef vexp(Cg *c, LLVMValueRef x, const char *name) {
    LLVMTypeRef t = LLVMTypeOf(x), it = vec(c->i32, lanes(x));
    x = sel(c, fcmp(c, LLVMRealOLT, x, kfp(t, -87.33654)), kfp(t, -87.33654), x, "");
    x = sel(c, fcmp(c, LLVMRealOGT, x, kfp(t, 88.3762626647949)), kfp(t, 88.3762626647949), x, "");
    LLVMValueRef fx = fma3(c, x, kfp(t, 1.44269504088896341), kfp(t, 0.5), "");
    fx = intrinsic(c, "llvm.floor", t, &fx, 1, "n");
    LLVMValueRef r = fsub(c, x, fmul(c, fx, kfp(t, 0.693359375), ""), "");
    r = fsub(c, r, fmul(c, fx, kfp(t, -2.12194440e-4), ""), "r");
    static const double coef[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                                  4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
    LLVMValueRef p = kfp(t, coef[0]);
    for (int i = 1; i < 6; i++)
        p = fma3(c, p, r, kfp(t, coef[i]), "");
    LLVMValueRef z = fmul(c, r, r, "");
    p = fadd(c, fadd(c, fmul(c, p, z, ""), r, ""), kfp(t, 1.0), "");
    LLVMValueRef ni = LLVMBuildFPToSI(c->b, fx, it, "");
    LLVMValueRef pow2 = LLVMBuildShl(c->b, LLVMBuildAdd(c->b, ni, kint(it, 127), ""), kint(it, 23), "");
    return fmul(c, p, LLVMBuildBitCast(c->b, pow2, t, ""), name);
}

/* ---------------------------------------------------------------- kernel frame */

static void fn_begin(Cg *c, const char *name) {
    LLVMTypeRef params[2] = {ptr(ptr(c->i8)), ptr(c->i64)};
    LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 2, 0);
    c->fn = LLVMAddFunction(c->mod, name, ft);
    c->name = name;
    c->bufs = LLVMGetParam(c->fn, 0);
    c->args = LLVMGetParam(c->fn, 1);
    LLVMSetValueName2(c->bufs, "bufs", 4);
    LLVMSetValueName2(c->args, "args", 4);
    static const char *const attrs[] = {"nounwind", "nofree", "nosync"};
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
        unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
        LLVMAddAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, kind, 0));
    }
    LLVMAddTargetDependentFunctionAttr(c->fn, "target-cpu", c->cpu);
    LLVMAddTargetDependentFunctionAttr(c->fn, "target-features", c->features);
    LLVMBasicBlockRef entry = block(c, "entry");
    c->start = block(c, "start");
    LLVMPositionBuilderAtEnd(c->ab, entry);
    LLVMPositionBuilderAtEnd(c->b, c->start);
}

static void fn_end(Cg *c) {
    LLVMBuildRetVoid(c->b);
    LLVMBuildBr(c->ab, c->start);   /* the entry block holds only allocas */
}

/* ---------------------------------------------------------------- GEMM */

/* GEMM. W is read one row at a time, in memory order, so the hardware sees one sequential stream
 * (measured faster than interleaving several rows, whose 4 KiB pages the prefetcher must each
 * discover), with a software prefetch one row ahead into L2. Each row's dot product with the MR
 * rows of x (MR folded; 1 for decode) keeps U independent vector accumulators per x row. int4
 * comes in blocks of 32 weights, the low nibbles of 16 bytes then their high nibbles: a byte
 * vector widened to i32 gives VL consecutive weights from its low nibbles and the VL weights 16
 * further from its high nibbles, with no shuffle. */
typedef struct Gemm {
    const KernelDesc *k;
    int K, N, G, NG;        /* G: elements per scale (K when not quantised) */
    int64_t row_bytes;      /* bytes per W row */
    LLVMValueRef y, x, w, scales, bias;
    LLVMTypeRef welem;      /* f32, i16, i8 or i8 (packed) */
    int ch;                 /* elements per chunk: VL, or a 32-weight block for int4 */
    int nacc;               /* accumulators per chunk: 1, or 2 for int4 (low, high nibbles) */
} Gemm;

enum { GEMM_MAX_MR = 8, GEMM_MAX_ACC = 8 };

/* One chunk of weights from element kk into acc[mr][u] (int4: also acc[mr][U + u]). */
static void gemm_chunk(Cg *c, Gemm *g, int MR, int U, LLVMValueRef *xrow, LLVMValueRef wrow, LLVMValueRef kk,
                       LLVMValueRef acc[GEMM_MAX_MR][GEMM_MAX_ACC], int u) {
    int vl = c->vl;
    LLVMValueRef w = NULL;
    switch (g->k->gemm.wtype) {
    case KD_F32: w = vld(c, c->f32, vl, at(c, c->f32, wrow, kk, ""), "w"); break;
    case KD_F16: w = f16_to_f32(c, vld(c, c->i16, vl, at(c, c->i16, wrow, kk, ""), ""), "w"); break;
    case KD_I8: w = LLVMBuildSIToFP(c->b, vld(c, c->i8, vl, at(c, c->i8, wrow, kk, ""), ""), c->vf, "w"); break;
    case KD_I4: {   /* a block of 32: 16 / VL steps of VL bytes, low nibbles into acc[u], high into acc[U+u] */
        LLVMTypeRef it = vec(c->i32, vl);
        LLVMValueRef byte0 = LLVMBuildAShr(c->b, kk, ki64(c, 1), "");
        for (int s = 0; s < 16 / vl; s++) {
            LLVMValueRef raw = vld(c, c->i8, vl, at(c, c->i8, wrow, iadd(c, byte0, ki64(c, s * vl), ""), ""), "packed");
            LLVMValueRef wide = LLVMBuildZExt(c->b, raw, it, "");
            LLVMValueRef wlo, whi;
            if (c->lut16) {     /* vpermps looks up the low 4 bits of each lane in a table of -8..7 */
                LLVMValueRef tab[16];
                for (int i = 0; i < 16; i++)
                    tab[i] = LLVMConstReal(c->f32, i - 8);
                LLVMValueRef table = LLVMConstVector(tab, 16);
                LLVMTypeRef pt[2] = {c->vf, it};
                LLVMTypeRef ft = LLVMFunctionType(c->vf, pt, 2, 0);
                LLVMValueRef f = LLVMGetNamedFunction(c->mod, "llvm.x86.avx512.permvar.sf.512");
                if (!f)
                    f = LLVMAddFunction(c->mod, "llvm.x86.avx512.permvar.sf.512", ft);
                LLVMValueRef a1[2] = {table, wide};
                wlo = LLVMBuildCall2(c->b, ft, f, a1, 2, "w.lo");
                LLVMValueRef a2[2] = {table, LLVMBuildLShr(c->b, wide, kint(it, 4), "")};
                whi = LLVMBuildCall2(c->b, ft, f, a2, 2, "w.hi");
            } else {
                LLVMValueRef lo = LLVMBuildAnd(c->b, wide, kint(it, 15), "");
                LLVMValueRef hi = LLVMBuildLShr(c->b, wide, kint(it, 4), "");
                wlo = LLVMBuildSIToFP(c->b, LLVMBuildSub(c->b, lo, kint(it, 8), ""), c->vf, "w.lo");
                whi = LLVMBuildSIToFP(c->b, LLVMBuildSub(c->b, hi, kint(it, 8), ""), c->vf, "w.hi");
            }
            for (int mr = 0; mr < MR; mr++) {
                LLVMValueRef k1 = iadd(c, kk, ki64(c, s * vl), "");
                LLVMValueRef xlo = vld(c, c->f32, vl, at(c, c->f32, xrow[mr], k1, ""), "x");
                LLVMValueRef xhi = vld(c, c->f32, vl, at(c, c->f32, xrow[mr], iadd(c, k1, ki64(c, 16), ""), ""), "x");
                st(c, fma3(c, xlo, wlo, get(c, acc[mr][u], ""), "acc"), acc[mr][u]);
                st(c, fma3(c, xhi, whi, get(c, acc[mr][U + u], ""), "acc"), acc[mr][U + u]);
            }
        }
        return;
    }
    case KD_COUNT_: h2c_unreachable("bad weight type");
    }
    for (int mr = 0; mr < MR; mr++) {
        LLVMValueRef xv = vld(c, c->f32, vl, at(c, c->f32, xrow[mr], kk, ""), "x");
        st(c, fma3(c, xv, w, get(c, acc[mr][u], ""), "acc"), acc[mr][u]);
    }
}

/* One weight at constant offset kk from k0 (int4: k0 a multiple of 32), as a float scalar. */
static LLVMValueRef gemm_wscalar(Cg *c, Gemm *g, LLVMValueRef wrow, LLVMValueRef k0, int kk) {
    LLVMValueRef idx = iadd(c, k0, ki64(c, kk), "");
    switch (g->k->gemm.wtype) {
    case KD_F32: return ld_at(c, c->f32, wrow, idx, "w");
    case KD_F16: return f16_to_f32(c, ld_at(c, c->i16, wrow, idx, ""), "w");
    case KD_I8: return LLVMBuildSIToFP(c->b, ld_at(c, c->i8, wrow, idx, ""), c->f32, "w");
    case KD_I4: {
        LLVMValueRef bi = iadd(c, LLVMBuildAShr(c->b, k0, ki64(c, 1), ""), ki64(c, kk / 32 * 16 + kk % 16), "");
        LLVMValueRef byte = ld_at(c, c->i8, wrow, bi, "");
        LLVMValueRef nib = kk % 32 >= 16 ? LLVMBuildLShr(c->b, byte, LLVMConstInt(c->i8, 4, 0), "")
                                  : LLVMBuildAnd(c->b, byte, LLVMConstInt(c->i8, 15, 0), "");
        return LLVMBuildSIToFP(c->b, LLVMBuildSub(c->b, nib, LLVMConstInt(c->i8, 8, 0), ""), c->f32, "w");
    }
    case KD_COUNT_: break;
    }
    h2c_unreachable("bad weight type");
}

/* Dot products of the MR x rows with one W row over elements [k0, k0+len) (len a constant):
 * gacc[mr], vectors whose lanes sum to the products. Chunks U at a time in a loop (with the
 * prefetch), leftover chunks one by one, then leftover elements one by one into lane 0. */
static void gemm_range(Cg *c, Gemm *g, int MR, int U, LLVMValueRef *xrow, LLVMValueRef wrow, LLVMValueRef k0,
                       int len, LLVMValueRef gacc[GEMM_MAX_MR]) {
    int ch = g->ch, na = U * g->nacc;
    LLVMValueRef acc[GEMM_MAX_MR][GEMM_MAX_ACC];
    int nmain = len / (U * ch), nrem = len % (U * ch) / ch, ntail = len % ch;
    for (int mr = 0; mr < MR; mr++)
        for (int a = 0; a < na; a++)
            acc[mr][a] = var(c, c->vf, "acc", LLVMConstNull(c->vf));
    if (nmain > 0) {
        Loop l;
        LLVMValueRef ci = loop_begin(c, &l, "k", ki64(c, 0), ki64(c, (int64_t)nmain * U * ch), (int64_t)U * ch);
        LLVMValueRef kk = iadd(c, k0, ci, "kk");
        /* one row ahead (at least 1 KiB), one prefetch per cache line this iteration reads */
        int64_t span = g->k->gemm.wtype == KD_I4 ? (int64_t)U * ch / 2 : (int64_t)U * ch * (g->row_bytes / g->K);
        int64_t ahead = g->row_bytes > 1024 ? g->row_bytes : 1024;
        LLVMValueRef base = LLVMBuildBitCast(c->b, wrow, ptr(c->i8), "");
        LLVMValueRef off = g->k->gemm.wtype == KD_I4 ? LLVMBuildAShr(c->b, kk, ki64(c, 1), "")
                                                     : imul(c, kk, ki64(c, g->row_bytes / g->K), "");
        for (int64_t line = 0; line < (span + 63) / 64; line++) {
            LLVMValueRef args[4] = {at(c, c->i8, base, iadd(c, off, ki64(c, ahead + 64 * line), ""), "ahead"),
                                    ki32(c, 0), ki32(c, 2), ki32(c, 1)};   /* read, into L2, data */
            intrinsic(c, "llvm.prefetch", ptr(c->i8), args, 4, "");
        }
        for (int u = 0; u < U; u++)
            gemm_chunk(c, g, MR, U, xrow, wrow, iadd(c, kk, ki64(c, (int64_t)u * ch), ""), acc, u);
        loop_end(c, &l);
    }
    for (int i = 0; i < nrem; i++)
        gemm_chunk(c, g, MR, U, xrow, wrow, iadd(c, k0, ki64(c, (int64_t)nmain * U * ch + (int64_t)i * ch), ""), acc,
                   i % U);
    for (int mr = 0; mr < MR; mr++) {
        LLVMValueRef s = get(c, acc[mr][0], "");
        for (int a = 1; a < na; a++)
            s = fadd(c, s, get(c, acc[mr][a], ""), "");
        if (ntail) {    /* the last len % ch elements, one by one, added into lane 0 */
            LLVMValueRef t = LLVMConstReal(c->f32, 0.0);
            for (int j = len - ntail; j < len; j++) {
                LLVMValueRef xs = ld_at(c, c->f32, xrow[mr], iadd(c, k0, ki64(c, j), ""), "x");
                t = fadd(c, t, fmul(c, xs, gemm_wscalar(c, g, wrow, k0, j), ""), "tail");
            }
            /* a separate sum, not a scalar FMA into lane 0: valgrind 3.19 gets vfmadd231ss's
             * upper lanes wrong, and this code must give the same answer under valgrind */
            s = fadd(c, s, LLVMBuildInsertElement(c->b, LLVMConstNull(c->vf), t, ki32(c, 0), ""), "");
        }
        gacc[mr] = s;
    }
}

/* Output n of rows m0..m0+MR-1. */
static void gemm_row(Cg *c, Gemm *g, int MR, int U, LLVMValueRef m0, LLVMValueRef n) {
    bool quant = g->k->gemm.wtype == KD_I8 || g->k->gemm.wtype == KD_I4;
    LLVMValueRef xrow[GEMM_MAX_MR], tot[GEMM_MAX_MR], gacc[GEMM_MAX_MR], srow = NULL;
    for (int mr = 0; mr < MR; mr++)
        xrow[mr] = at(c, c->f32, g->x, imul(c, iadd(c, m0, ki64(c, mr), ""), ki64(c, g->K), ""), "x.row");
    LLVMValueRef wrow = at(c, g->welem, g->w, imul(c, n, ki64(c, g->welem == c->i8 ? g->row_bytes :
                                                                     g->row_bytes / (g->welem == c->f32 ? 4 : 2)), ""),
                           "w.row");
    if (quant)
        srow = at(c, c->i16, g->scales, imul(c, n, ki64(c, g->NG), ""), "scale.row");
    if (!quant) {
        gemm_range(c, g, MR, U, xrow, wrow, ki64(c, 0), g->K, tot);
    } else {
        /* per group: its partial sums (lanes) times its scale, summed in vectors */
        LLVMValueRef totv[GEMM_MAX_MR];
        for (int mr = 0; mr < MR; mr++)
            totv[mr] = var(c, c->vf, "tot", LLVMConstNull(c->vf));
        int full = g->K / g->G, last = g->K % g->G;
        for (int part = 0; part < 2; part++) {
            if (part == 0 ? full == 0 : last == 0)
                continue;
            Loop l;
            LLVMValueRef gi = part == 0 ? loop_begin(c, &l, "group", ki64(c, 0), ki64(c, full), 1) : ki64(c, full);
            LLVMValueRef k0 = imul(c, gi, ki64(c, g->G), "k0");
            gemm_range(c, g, MR, U, xrow, wrow, k0, part == 0 ? g->G : last, gacc);
            LLVMValueRef sv = splat(c, f16_to_f32(c, ld_at(c, c->i16, srow, gi, ""), "scale"), c->vl, "");
            for (int mr = 0; mr < MR; mr++)
                st(c, fma3(c, sv, gacc[mr], get(c, totv[mr], ""), "tot"), totv[mr]);
            if (part == 0)
                loop_end(c, &l);
        }
        for (int mr = 0; mr < MR; mr++)
            tot[mr] = get(c, totv[mr], "");
    }
    for (int mr = 0; mr < MR; mr++) {
        LLVMValueRef res = hsum(c, tot[mr], "dot");
        if (g->k->gemm.bias)
            res = fadd(c, res, ld_at(c, c->f32, g->bias, n, "bias"), "");
        LLVMValueRef yi = iadd(c, imul(c, iadd(c, m0, ki64(c, mr), ""), ki64(c, g->N), ""), n, "");
        LLVMValueRef yp = at(c, c->f32, g->y, yi, "y.at");
        if (g->k->gemm.accumulate)
            res = fadd(c, ld(c, c->f32, yp, "y.old"), res, "");
        st(c, res, yp);
    }
}

/* All N outputs of the MR rows from m0. */
static void gemm_pass(Cg *c, Gemm *g, int MR, LLVMValueRef m0) {
    /* fp32/fp16: four accumulators hide the FMA latency; quantised rows restart theirs every group,
     * and independent groups overlap in the out-of-order window: one is enough */
    bool quant = g->k->gemm.wtype == KD_I8 || g->k->gemm.wtype == KD_I4;
    int U = quant || MR > 2 ? 1 : MR == 1 ? 4 : 2;
    Loop l;
    LLVMValueRef n = loop_begin(c, &l, "n", ki64(c, 0), ki64(c, g->N), 1);
    gemm_row(c, g, MR, U, m0, n);
    loop_end(c, &l);
}

static void build_gemm(Cg *c, const KernelDesc *k) {
    Gemm g = {.k = k, .K = k->gemm.k, .N = k->gemm.n};
    KernelDType wt = k->gemm.wtype;
    bool quant = wt == KD_I8 || wt == KD_I4;
    g.G = quant ? k->gemm.group : g.K;
    g.NG = (g.K + g.G - 1) / g.G;
    g.row_bytes = be_gemm_row_bytes(k);
    g.ch = wt == KD_I4 ? 32 : c->vl;
    g.nacc = wt == KD_I4 ? 2 : 1;
    g.welem = wt == KD_F32 ? c->f32 : wt == KD_F16 ? c->i16 : c->i8;
    g.y = buf(c, 0, c->f32, "y");
    g.x = buf(c, 1, c->f32, "x");
    g.w = buf(c, 2, g.welem, "w");
    if (quant)
        g.scales = buf(c, 3, c->i16, "scales");
    if (k->gemm.bias)
        g.bias = buf(c, 4, c->f32, "bias");
    if (k->gemm.m > 0) {
        gemm_pass(c, &g, k->gemm.m, ki64(c, 0));
        return;
    }
    /* run-time rows: four at a time (W read once per four), then one at a time */
    LLVMValueRef M = arg(c, 0, "M");
    LLVMValueRef M4 = LLVMBuildAnd(c->b, M, ki64(c, ~(int64_t)3), "M4");
    Loop l;
    LLVMValueRef m0 = loop_begin(c, &l, "m", ki64(c, 0), M4, 4);
    gemm_pass(c, &g, 4, m0);
    loop_end(c, &l);
    LLVMValueRef m = loop_begin(c, &l, "m.rest", M4, M, 1);
    gemm_pass(c, &g, 1, m);
    loop_end(c, &l);
}

/* ---------------------------------------------------------------- attention */

/* Attention, FlashAttention-style for one query row at a time: keys in blocks of 16. (1) Each key
 * of the block is loaded once and dotted with the g query heads (two accumulators per head), one
 * score per head and key; (2) per head, the running max, the rescale of what was summed so far,
 * and the block's 16 softmax weights as one vector (a polynomial exp); (3) O += p V, with the keys
 * in the inner loop and a slice of O's dims for all heads in registers (at most 16 vectors), one
 * pass per slice. A short block (the range's end) has its missing lanes masked to weight 0. Each
 * key of (1) also prefetches the K and V rows of the key one block ahead. */
enum { ATTN_BLOCK = 16 };

static void build_attn(Cg *c, const KernelDesc *k) {
    int D = k->attn.head_dim, G = k->attn.g, P = k->attn.page, B = ATTN_BLOCK, vl = c->vl;
    KernelDType kv = k->attn.kv;
    LLVMTypeRef kt = kv_type(c, kv), bt = vec(c->f32, B);
    int nch = D / vl, dtail = D % vl;
    int slice = 16 / G < 1 ? 1 : 16 / G > nch ? nch : 16 / G;  /* O chunks per head per pass of (3) */
    LLVMValueRef o = buf(c, 0, c->f32, "o"), lse = buf(c, 1, c->f32, "lse"), q = buf(c, 2, c->f32, "q");
    LLVMValueRef kc = buf(c, 3, kt, "k.cache"), vc = buf(c, 4, kt, "v.cache");
    LLVMValueRef pages = P ? buf(c, 5, c->i32, "pages") : NULL;
    LLVMValueRef qpos = k->attn.causal ? buf(c, 6, c->i32, "qpos") : NULL;
    LLVMValueRef M = arg(c, 0, "M"), lo = arg(c, 1, "lo"), hi = arg(c, 2, "hi");
    LLVMValueRef scale = LLVMConstReal(c->f32, be_attn_scale(k));
    LLVMValueRef sc = local_array(c, c->f32, (int64_t)G * B, "scores");  /* [G][B], then weights */
    LLVMValueRef rows = local_array(c, c->i64, B, "rows");               /* cache row of each key */
    LLVMValueRef acc = local_array(c, c->f32, (int64_t)G * D, "acc");    /* [G][D] unnormalised O */
    LLVMValueRef mrun = local_array(c, c->f32, G, "max"), lrun = local_array(c, c->f32, G, "sum");
    LLVMValueRef ninf = LLVMConstReal(c->f32, -INFINITY), zero = LLVMConstReal(c->f32, 0.0);

    Loop li, lh;
    LLVMValueRef i = loop_begin(c, &li, "i", ki64(c, 0), M, 1);
    LLVMValueRef end = hi, start = lo;
    if (qpos) {
        LLVMValueRef p1 = iadd(c, LLVMBuildSExt(c->b, ld_at(c, c->i32, qpos, i, "qpos"), c->i64, ""), ki64(c, 1), "");
        end = smin(c, p1, hi, "end");
        if (k->attn.window > 0)     /* and keys t > qpos[i] - window */
            start = smax(c, LLVMBuildNSWSub(c->b, p1, ki64(c, k->attn.window), ""), lo, "start");
    }
    int nil = be_attn_interleave(k);
    if (nil > 1) {  /* keys t = lo mod n at rows t / n: the rows of tokens [start, end) */
        LLVMValueRef n = ki64(c, nil), n1 = ki64(c, nil - 1);
        LLVMValueRef j = LLVMBuildSRem(c->b, lo, n, "j");
        start = LLVMBuildSDiv(c->b, iadd(c, LLVMBuildNSWSub(c->b, start, j, ""), n1, ""), n, "start.row");
        LLVMValueRef past = LLVMBuildSDiv(c->b, iadd(c, LLVMBuildNSWSub(c->b, end, j, ""), n1, ""), n, "");
        end = sel(c, icmp(c, LLVMIntSGT, end, j), past, ki64(c, 0), "end.row");
    }
    LLVMValueRef qi = at(c, c->f32, q, imul(c, i, ki64(c, (int64_t)G * D), ""), "q.row");
    LLVMValueRef h = loop_begin(c, &lh, "init", ki64(c, 0), ki64(c, G), 1);
    st_at(c, ninf, mrun, h);
    st_at(c, zero, lrun, h);
    loop_end(c, &lh);
    LLVMValueRef zbytes = ki64(c, (int64_t)G * D * 4);
    LLVMBuildMemSet(c->b, LLVMBuildBitCast(c->b, acc, ptr(c->i8), ""), LLVMConstInt(c->i8, 0, 0), zbytes, 64);

    Loop lt;
    LLVMValueRef t0 = loop_begin(c, &lt, "t", start, end, B);
    LLVMValueRef cnt = smin(c, LLVMBuildNSWSub(c->b, end, t0, ""), ki64(c, B), "cnt");
    /* (1) scores s[h][j] = scale q_h . k_j; lanes j >= cnt stay -inf */
    for (int hh = 0; hh < G; hh++)
        vst(c, kfp(bt, -INFINITY), at(c, c->f32, sc, ki64(c, (int64_t)hh * B), ""));
    {
        Loop lj;
        LLVMValueRef j = loop_begin(c, &lj, "j", ki64(c, 0), cnt, 1);
        LLVMValueRef t = iadd(c, t0, j, "t");
        LLVMValueRef row = t;
        if (P) {
            LLVMValueRef page = ld_at(c, c->i32, pages, LLVMBuildSDiv(c->b, t, ki64(c, P), ""), "page");
            row = iadd(c, imul(c, LLVMBuildSExt(c->b, page, c->i64, ""), ki64(c, P), ""),
                       LLVMBuildSRem(c->b, t, ki64(c, P), ""), "row");
        }
        st_at(c, row, rows, j);
        {   /* prefetch the K and V rows of the key a block ahead (the last key near the range's end),
             * into L1: measured 19 -> 29 GB/s at 32k context; the page table is read for it too */
            LLVMValueRef last = LLVMBuildNSWSub(c->b, end, ki64(c, 1), "");
            LLVMValueRef t2 = smin(c, iadd(c, t, ki64(c, B), ""), last, "t.ahead");
            LLVMValueRef row2 = t2;
            if (P) {
                LLVMValueRef page = ld_at(c, c->i32, pages, LLVMBuildSDiv(c->b, t2, ki64(c, P), ""), "page.ahead");
                row2 = iadd(c, imul(c, LLVMBuildSExt(c->b, page, c->i64, ""), ki64(c, P), ""),
                            LLVMBuildSRem(c->b, t2, ki64(c, P), ""), "row.ahead");
            }
            int64_t rb = (int64_t)D * (kv == KD_F16 ? 2 : 4);
            LLVMValueRef off = imul(c, row2, ki64(c, rb), "");
            for (int cache = 0; cache < 2; cache++) {
                LLVMValueRef base = LLVMBuildBitCast(c->b, cache ? vc : kc, ptr(c->i8), "");
                for (int64_t line = 0; line < (rb + 63) / 64; line++) {
                    LLVMValueRef args[4] = {at(c, c->i8, base, iadd(c, off, ki64(c, 64 * line), ""), "ahead"),
                                            ki32(c, 0), ki32(c, 3), ki32(c, 1)};
                    intrinsic(c, "llvm.prefetch", ptr(c->i8), args, 4, "");
                }
            }
        }
        LLVMValueRef kp = at(c, kt, kc, imul(c, row, ki64(c, D), ""), "k.row");
        LLVMValueRef dot[64][2];
        for (int hh = 0; hh < G; hh++)
            dot[hh][0] = dot[hh][1] = LLVMConstNull(c->vf);
        for (int ch = 0; ch < nch; ch++) {
            LLVMValueRef kv_ = load_kv(c, kv, at(c, kt, kp, ki64(c, (int64_t)ch * vl), ""), vl, "k");
            for (int hh = 0; hh < G; hh++) {
                LLVMValueRef qv = vld(c, c->f32, vl, at(c, c->f32, qi, ki64(c, (int64_t)hh * D + ch * vl), ""), "q");
                dot[hh][ch & 1] = fma3(c, qv, kv_, dot[hh][ch & 1], "dot");
            }
        }
        for (int hh = 0; hh < G; hh++) {
            LLVMValueRef s = nch ? hsum(c, fadd(c, dot[hh][0], dot[hh][1], ""), "") : zero;
            for (int d = D - dtail; d < D; d++) {
                LLVMValueRef ks = load_kv(c, kv, at(c, kt, kp, ki64(c, d), ""), 1, "k");
                s = fma3(c, ld_at(c, c->f32, qi, ki64(c, (int64_t)hh * D + d), "q"), ks, s, "");
            }
            st_at(c, fmul(c, s, scale, "s"), sc, iadd(c, ki64(c, (int64_t)hh * B), j, ""));
        }
        loop_end(c, &lj);
    }
    /* (2) per head: the new running max, the rescale of what was summed, the block's weights */
    int idx[ATTN_BLOCK];
    for (int j = 0; j < B; j++)
        idx[j] = j;
    LLVMValueRef live = icmp(c, LLVMIntSLT, kmask(c, idx, B),
                             LLVMBuildTrunc(c->b, splat(c, cnt, B, ""), vec(c->i32, B), ""));   /* lane j < cnt */
    h = loop_begin(c, &lh, "h", ki64(c, 0), ki64(c, G), 1);
    {
        LLVMValueRef sp = at(c, c->f32, sc, imul(c, h, ki64(c, B), ""), "");
        LLVMValueRef s = vld(c, c->f32, B, sp, "s");
        LLVMValueRef mold = ld_at(c, c->f32, mrun, h, "m.old");
        LLVMValueRef bm = hmax(c, s, "m.block");
        LLVMValueRef mnew = sel(c, fcmp(c, LLVMRealOGT, bm, mold), bm, mold, "m.new");
        LLVMValueRef corr = libm(c, "expf", fsub(c, mold, mnew, ""), "corr");
        LLVMValueRef p = vexp(c, fsub(c, s, splat(c, mnew, B, ""), ""), "");
        p = sel(c, live, p, LLVMConstNull(bt), "p");
        vst(c, p, sp);
        LLVMValueRef l = ld_at(c, c->f32, lrun, h, "l.old");
        st_at(c, fadd(c, fmul(c, l, corr, ""), hsum(c, p, ""), "l.new"), lrun, h);
        st_at(c, mnew, mrun, h);
        LLVMValueRef ah = at(c, c->f32, acc, imul(c, h, ki64(c, D), ""), "acc.head");
        LLVMValueRef cv = splat(c, corr, vl, "");
        for (int ch = 0; ch < nch; ch++) {
            LLVMValueRef ap = at(c, c->f32, ah, ki64(c, (int64_t)ch * vl), "");
            vst(c, fmul(c, vld(c, c->f32, vl, ap, "acc"), cv, ""), ap);
        }
        for (int d = D - dtail; d < D; d++) {
            LLVMValueRef ap = at(c, c->f32, ah, ki64(c, d), "");
            st(c, fmul(c, ld(c, c->f32, ap, "acc"), corr, ""), ap);
        }
    }
    loop_end(c, &lh);
    /* (3) acc_h += sum_j p[h][j] v_j: per pass, `slice` chunks of every head stay in registers */
    for (int c0 = 0; c0 < nch; c0 += slice) {
        int c1 = c0 + slice < nch ? c0 + slice : nch;
        LLVMValueRef av[64][16];
        for (int hh = 0; hh < G; hh++)
            for (int ch = c0; ch < c1; ch++) {
                LLVMValueRef ap = at(c, c->f32, acc, ki64(c, (int64_t)hh * D + ch * vl), "");
                av[hh][ch - c0] = var(c, c->vf, "o.acc", vld(c, c->f32, vl, ap, ""));
            }
        Loop lj;
        LLVMValueRef j = loop_begin(c, &lj, "pv", ki64(c, 0), cnt, 1);
        LLVMValueRef vp = at(c, kt, vc, imul(c, ld_at(c, c->i64, rows, j, "row"), ki64(c, D), ""), "v.row");
        LLVMValueRef vv[16];
        for (int ch = c0; ch < c1; ch++)
            vv[ch - c0] = load_kv(c, kv, at(c, kt, vp, ki64(c, (int64_t)ch * vl), ""), vl, "v");
        for (int hh = 0; hh < G; hh++) {
            LLVMValueRef p = ld_at(c, c->f32, sc, iadd(c, ki64(c, (int64_t)hh * B), j, ""), "p");
            LLVMValueRef pv = splat(c, p, vl, "");
            for (int ch = c0; ch < c1; ch++)
                st(c, fma3(c, pv, vv[ch - c0], get(c, av[hh][ch - c0], ""), "o.acc"), av[hh][ch - c0]);
        }
        loop_end(c, &lj);
        for (int hh = 0; hh < G; hh++)
            for (int ch = c0; ch < c1; ch++)
                vst(c, get(c, av[hh][ch - c0], ""), at(c, c->f32, acc, ki64(c, (int64_t)hh * D + ch * vl), ""));
    }
    if (dtail) {    /* the D % VL leftover dims, one at a time */
        LLVMValueRef av[64][16];
        for (int hh = 0; hh < G; hh++)
            for (int d = 0; d < dtail; d++)
                av[hh][d] = var(c, c->f32, "o.acc", ld_at(c, c->f32, acc, ki64(c, (int64_t)hh * D + nch * vl + d), ""));
        Loop lj;
        LLVMValueRef j = loop_begin(c, &lj, "pv.tail", ki64(c, 0), cnt, 1);
        LLVMValueRef vp = at(c, kt, vc, imul(c, ld_at(c, c->i64, rows, j, "row"), ki64(c, D), ""), "v.row");
        for (int hh = 0; hh < G; hh++) {
            LLVMValueRef p = ld_at(c, c->f32, sc, iadd(c, ki64(c, (int64_t)hh * B), j, ""), "p");
            for (int d = 0; d < dtail; d++) {
                LLVMValueRef vs = load_kv(c, kv, at(c, kt, vp, ki64(c, (int64_t)nch * vl + d), ""), 1, "v");
                st(c, fma3(c, p, vs, get(c, av[hh][d], ""), "o.acc"), av[hh][d]);
            }
        }
        loop_end(c, &lj);
        for (int hh = 0; hh < G; hh++)
            for (int d = 0; d < dtail; d++)
                st_at(c, get(c, av[hh][d], ""), acc, ki64(c, (int64_t)hh * D + nch * vl + d));
    }
    loop_end(c, &lt);

    /* O = acc / l and LSE = m + ln l; no key (l = 0): O = 0, LSE = -inf */
    h = loop_begin(c, &lh, "out", ki64(c, 0), ki64(c, G), 1);
    {
        LLVMValueRef l = ld_at(c, c->f32, lrun, h, "l");
        LLVMValueRef any = fcmp(c, LLVMRealOGT, l, zero);
        LLVMValueRef ih = iadd(c, imul(c, i, ki64(c, G), ""), h, "");
        LLVMValueRef oh = at(c, c->f32, o, imul(c, ih, ki64(c, D), ""), "o.row");
        LLVMValueRef ah = at(c, c->f32, acc, imul(c, h, ki64(c, D), ""), "acc.head");
        LLVMValueRef lv = splat(c, l, vl, ""), anyv = splat(c, any, vl, "");
        for (int ch = 0; ch < nch; ch++) {
            LLVMValueRef a = vld(c, c->f32, vl, at(c, c->f32, ah, ki64(c, (int64_t)ch * vl), ""), "");
            LLVMValueRef ov = sel(c, anyv, fdiv(c, a, lv, ""), LLVMConstNull(c->vf), "o");
            vst(c, ov, at(c, c->f32, oh, ki64(c, (int64_t)ch * vl), ""));
        }
        for (int d = D - dtail; d < D; d++) {
            LLVMValueRef a = ld_at(c, c->f32, ah, ki64(c, d), "");
            st_at(c, sel(c, any, fdiv(c, a, l, ""), zero, "o"), oh, ki64(c, d));
        }
        LLVMValueRef m = ld_at(c, c->f32, mrun, h, "m");
        st_at(c, sel(c, any, fadd(c, m, libm(c, "logf", l, ""), ""), ninf, "lse"), lse, ih);
    }
    loop_end(c, &lh);
    loop_end(c, &li);
}

/* ---------------------------------------------------------------- merge, Quest (as the C target) */

static void build_merge(Cg *c, const KernelDesc *k) {
    int64_t D = k->merge.head_dim;
    LLVMValueRef o = buf(c, 0, c->f32, "o"), lse = buf(c, 1, c->f32, "lse");
    LLVMValueRef os = buf(c, 2, c->f32, "os"), lses = buf(c, 3, c->f32, "lses");
    LLVMValueRef R = arg(c, 0, "R"), n = arg(c, 1, "n");
    LLVMValueRef ninf = LLVMConstReal(c->f32, -INFINITY), zero = LLVMConstReal(c->f32, 0.0);
    Loop lr, li, ld_;
    LLVMValueRef r = loop_begin(c, &lr, "r", ki64(c, 0), R, 1);
    LLVMValueRef orow = at(c, c->f32, o, imul(c, r, ki64(c, D), ""), "o.row");
    LLVMValueRef mx = var(c, c->f32, "max", ninf);
    LLVMValueRef i = loop_begin(c, &li, "i", ki64(c, 0), n, 1);
    LLVMValueRef li_ = ld_at(c, c->f32, lses, iadd(c, imul(c, i, R, ""), r, ""), "lse.i");
    LLVMValueRef m = get(c, mx, "");
    st(c, sel(c, fcmp(c, LLVMRealOGT, li_, m), li_, m, ""), mx);
    loop_end(c, &li);
    LLVMValueRef d = loop_begin(c, &ld_, "d", ki64(c, 0), ki64(c, D), 1);
    st_at(c, zero, orow, d);
    loop_end(c, &ld_);
    m = get(c, mx, "m");
    If f;
    if_begin(c, &f, fcmp(c, LLVMRealOEQ, m, ninf), "empty");
    st_at(c, ninf, lse, r);
    if_else(c, &f);
    LLVMValueRef sum = var(c, c->f32, "sum", zero);
    i = loop_begin(c, &li, "i", ki64(c, 0), n, 1);
    li_ = ld_at(c, c->f32, lses, iadd(c, imul(c, i, R, ""), r, ""), "lse.i");
    st(c, fadd(c, get(c, sum, ""), libm(c, "expf", fsub(c, li_, m, ""), ""), ""), sum);
    loop_end(c, &li);
    LLVMValueRef l = fadd(c, m, libm(c, "logf", get(c, sum, ""), ""), "l");
    i = loop_begin(c, &li, "i", ki64(c, 0), n, 1);
    li_ = ld_at(c, c->f32, lses, iadd(c, imul(c, i, R, ""), r, ""), "lse.i");
    LLVMValueRef w = libm(c, "expf", fsub(c, li_, l, ""), "w");
    LLVMValueRef oi = at(c, c->f32, os, imul(c, iadd(c, imul(c, i, R, ""), r, ""), ki64(c, D), ""), "o.i");
    d = loop_begin(c, &ld_, "d", ki64(c, 0), ki64(c, D), 1);
    LLVMValueRef op = at(c, c->f32, orow, d, "");
    st(c, fadd(c, ld(c, c->f32, op, ""), fmul(c, w, ld_at(c, c->f32, oi, d, ""), ""), ""), op);
    loop_end(c, &ld_);
    loop_end(c, &li);
    st_at(c, l, lse, r);
    if_end(c, &f);
    loop_end(c, &lr);
}

/* while (j > 0 && s > a[j-1]) j--, moving a[j-1] (and b[j-1]) up: the insertion step shared by
 * the top-k and the sort (a float or i32 keys; b optional companion array). */
static void insert_shift(Cg *c, LLVMValueRef j, LLVMValueRef a, LLVMTypeRef at_, LLVMValueRef key, bool keyf,
                         LLVMValueRef b, const char *name) {
    char buf1[64], buf2[64], buf3[64], buf4[64];
    snprintf(buf1, sizeof buf1, "%s.test", name);
    snprintf(buf2, sizeof buf2, "%s.cmp", name);
    snprintf(buf3, sizeof buf3, "%s.move", name);
    snprintf(buf4, sizeof buf4, "%s.end", name);
    LLVMBasicBlockRef test = block(c, buf1), cmp = block(c, buf2), move = block(c, buf3), done = block(c, buf4);
    LLVMBuildBr(c->b, test);
    LLVMPositionBuilderAtEnd(c->b, test);
    LLVMValueRef jv = get(c, j, "j");
    LLVMBuildCondBr(c->b, icmp(c, LLVMIntSGT, jv, ki64(c, 0)), cmp, done);
    LLVMPositionBuilderAtEnd(c->b, cmp);
    LLVMValueRef jm = LLVMBuildNSWSub(c->b, jv, ki64(c, 1), "");
    LLVMValueRef prev = ld_at(c, at_, a, jm, "prev");
    LLVMValueRef gt = keyf ? fcmp(c, LLVMRealOGT, key, prev) : icmp(c, LLVMIntSGT, prev, key);
    LLVMBuildCondBr(c->b, gt, move, done);
    LLVMPositionBuilderAtEnd(c->b, move);
    st_at(c, prev, a, jv);
    if (b)
        st_at(c, ld_at(c, c->i32, b, jm, ""), b, jv);
    st(c, jm, j);
    LLVMBuildBr(c->b, test);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* Score sv of page p into the KEEP best kept so far (best first, NaN ranked last, an equal score
 * behind the lower page that came first): the C target's emit_keep_best. */
static void keep_best(Cg *c, LLVMValueRef best, LLVMValueRef besti, LLVMValueRef kept, LLVMValueRef j, int64_t KEEP,
                      LLVMValueRef sv, LLVMValueRef p) {
    sv = sel(c, fcmp(c, LLVMRealUNO, sv, sv), LLVMConstReal(c->f32, -INFINITY), sv, "rank");
    LLVMValueRef kv = get(c, kept, "");
    LLVMValueRef room = icmp(c, LLVMIntSLT, kv, ki64(c, KEEP));
    LLVMValueRef worst = ld_at(c, c->f32, best, ki64(c, KEEP - 1), "worst");
    If f;
    if_begin(c, &f, sel(c, room, LLVMConstInt(c->i1, 1, 0), fcmp(c, LLVMRealOGT, sv, worst), ""), "keep");
    st(c, sel(c, room, kv, ki64(c, KEEP - 1), ""), j);
    st(c, sel(c, room, iadd(c, kv, ki64(c, 1), ""), kv, ""), kept);
    insert_shift(c, j, best, c->f32, sv, true, besti, "rank");
    LLVMValueRef jv = get(c, j, "");
    st_at(c, sv, best, jv);
    st_at(c, LLVMBuildTrunc(c->b, p, c->i32, ""), besti, jv);
    if_end(c, &f);
}

/* The kept pages in ascending order (an insertion sort, as the C target). */
static void sort_kept(Cg *c, LLVMValueRef besti, LLVMValueRef n, LLVMValueRef j) {
    Loop ls;
    LLVMValueRef ii = loop_begin(c, &ls, "sort", ki64(c, 1), n, 1);
    LLVMValueRef v = ld_at(c, c->i32, besti, ii, "v");
    st(c, ii, j);
    insert_shift(c, j, besti, c->i32, v, false, NULL, "order");
    st_at(c, v, besti, get(c, j, ""));
    loop_end(c, &ls);
}

/* sel[i] = i < n ? besti[i] : -1 for i < K */
static void write_sel(Cg *c, LLVMValueRef sel_, LLVMValueRef besti, LLVMValueRef n, int64_t K) {
    Loop ls;
    LLVMValueRef ii = loop_begin(c, &ls, "out", ki64(c, 0), ki64(c, K), 1);
    LLVMValueRef pick = sel(c, icmp(c, LLVMIntSLT, ii, n), ld_at(c, c->i32, besti, ii, ""),
                            LLVMConstInt(c->i32, (unsigned long long)-1, 1), "");
    st_at(c, pick, sel_, ii);
    loop_end(c, &ls);
}

static void build_page_score(Cg *c, const KernelDesc *k) {
    int64_t D = k->score.head_dim, G = k->score.g, TOPK = k->score.topk;
    KernelDType mt = k->score.mtype;
    LLVMValueRef sel_ = buf(c, 0, c->i32, "sel"), score = buf(c, 1, c->f32, "score");
    LLVMValueRef q = buf(c, 2, c->f32, "q"), meta = buf(c, 3, kv_type(c, mt), "meta");
    LLVMValueRef np = arg(c, 0, "npages");
    LLVMValueRef best = NULL, besti = NULL, kept = NULL, j = NULL;
    if (TOPK > 0) {
        best = local_array(c, c->f32, TOPK, "best");
        besti = local_array(c, c->i32, TOPK, "best.page");
        kept = var(c, c->i64, "kept", ki64(c, 0));
        j = var(c, c->i64, "j", NULL);
    }
    Loop lp, lh, ld_;
    LLVMValueRef p = loop_begin(c, &lp, "p", ki64(c, 0), np, 1);
    LLVMValueRef mn = at(c, kv_type(c, mt), meta, imul(c, p, ki64(c, 2 * D), ""), "min");
    LLVMValueRef mxk = at(c, kv_type(c, mt), mn, ki64(c, D), "max");
    LLVMValueRef s = var(c, c->f32, "s", LLVMConstReal(c->f32, 0.0));
    LLVMValueRef h = loop_begin(c, &lh, "h", ki64(c, 0), ki64(c, G), 1);
    LLVMValueRef d = loop_begin(c, &ld_, "d", ki64(c, 0), ki64(c, D), 1);
    LLVMValueRef qd = ld_at(c, c->f32, q, iadd(c, imul(c, h, ki64(c, D), ""), d, ""), "q");
    LLVMValueRef a = fmul(c, qd, load_kv(c, mt, at(c, kv_type(c, mt), mxk, d, ""), 1, ""), "a");
    LLVMValueRef bb = fmul(c, qd, load_kv(c, mt, at(c, kv_type(c, mt), mn, d, ""), 1, ""), "b");
    st(c, fadd(c, get(c, s, ""), sel(c, fcmp(c, LLVMRealOGT, a, bb), a, bb, ""), ""), s);
    loop_end(c, &ld_);
    loop_end(c, &lh);
    LLVMValueRef sv = get(c, s, "score");
    st_at(c, sv, score, p);
    if (TOPK > 0)
        keep_best(c, best, besti, kept, j, TOPK, sv, p);
    loop_end(c, &lp);
    if (TOPK > 0) {
        LLVMValueRef n = get(c, kept, "kept");
        sort_kept(c, besti, n, j);
        write_sel(c, sel_, besti, n, TOPK);
    }
}

/* Quest's choice on a score vector: the newest page and the k - 1 best of the others, ascending. */
static void build_topk(Cg *c, const KernelDesc *k) {
    int64_t K = k->topk.k, KEEP = K - 1;
    LLVMValueRef sel_ = buf(c, 0, c->i32, "sel"), score = buf(c, 1, c->f32, "score");
    LLVMValueRef np = arg(c, 0, "npages");
    LLVMValueRef besti = local_array(c, c->i32, K, "best.page");
    LLVMValueRef kept = var(c, c->i64, "kept", ki64(c, 0)), j = var(c, c->i64, "j", NULL);
    if (KEEP > 0) {
        LLVMValueRef best = local_array(c, c->f32, KEEP, "best");
        Loop lp;
        LLVMValueRef p = loop_begin(c, &lp, "p", ki64(c, 0), LLVMBuildNSWSub(c->b, np, ki64(c, 1), "older"), 1);
        keep_best(c, best, besti, kept, j, KEEP, ld_at(c, c->f32, score, p, "score"), p);
        loop_end(c, &lp);
        sort_kept(c, besti, get(c, kept, "kept"), j);
    }
    If f;
    if_begin(c, &f, icmp(c, LLVMIntSGT, np, ki64(c, 0)), "newest");
    LLVMValueRef kv = get(c, kept, "");
    st_at(c, LLVMBuildTrunc(c->b, LLVMBuildNSWSub(c->b, np, ki64(c, 1), ""), c->i32, "newest"), besti, kv);
    st(c, iadd(c, kv, ki64(c, 1), ""), kept);
    if_end(c, &f);
    write_sel(c, sel_, besti, get(c, kept, "n"), K);
}

/* Tile j's local rows of the selected pages, ascending, then -1 (the C target's emit_page_rows). */
static void build_page_rows(Cg *c, const KernelDesc *k) {
    int64_t P = k->rows.page, NT = k->rows.tiles, K = k->rows.k, MAXR = K * ((P + NT - 1) / NT);
    LLVMValueRef rows = buf(c, 0, c->i32, "rows"), sel_ = buf(c, 1, c->i32, "sel");
    LLVMValueRef j = arg(c, 0, "j");
    LLVMValueRef m = var(c, c->i64, "m", ki64(c, 0));
    LLVMValueRef i = var(c, c->i64, "i", ki64(c, 0));
    LLVMBasicBlockRef test = block(c, "sel.test"), more = block(c, "sel.more"), body = block(c, "sel.body"),
                      done = block(c, "sel.end");
    LLVMBuildBr(c->b, test);
    LLVMPositionBuilderAtEnd(c->b, test);
    LLVMValueRef iv = get(c, i, "i");
    LLVMBuildCondBr(c->b, icmp(c, LLVMIntSLT, iv, ki64(c, K)), more, done);
    LLVMPositionBuilderAtEnd(c->b, more);
    LLVMValueRef pg = LLVMBuildSExt(c->b, ld_at(c, c->i32, sel_, iv, ""), c->i64, "p");
    LLVMBuildCondBr(c->b, icmp(c, LLVMIntSGE, pg, ki64(c, 0)), body, done);
    LLVMPositionBuilderAtEnd(c->b, body);
    /* rows [ceil((pP - j) / n), ceil(((p+1)P - j) / n)): numerators >= 0 as j < n <= ... P p + n - 1 - j >= 0 */
    LLVMValueRef lo = LLVMBuildSDiv(c->b, iadd(c, LLVMBuildNSWSub(c->b, imul(c, pg, ki64(c, P), ""), j, ""),
                                              ki64(c, NT - 1), ""), ki64(c, NT), "lo");
    LLVMValueRef hi = LLVMBuildSDiv(c->b, iadd(c, LLVMBuildNSWSub(c->b, imul(c, iadd(c, pg, ki64(c, 1), ""),
                                                                         ki64(c, P), ""), j, ""),
                                              ki64(c, NT - 1), ""), ki64(c, NT), "hi");
    Loop lr;
    LLVMValueRef r = loop_begin(c, &lr, "r", lo, hi, 1);
    LLVMValueRef mv = get(c, m, "");
    If f;
    if_begin(c, &f, icmp(c, LLVMIntSLT, mv, ki64(c, MAXR)), "room");
    st_at(c, LLVMBuildTrunc(c->b, r, c->i32, ""), rows, mv);
    st(c, iadd(c, mv, ki64(c, 1), ""), m);
    if_end(c, &f);
    loop_end(c, &lr);
    st(c, iadd(c, get(c, i, ""), ki64(c, 1), ""), i);
    LLVMBuildBr(c->b, test);
    LLVMMoveBasicBlockAfter(done, LLVMGetLastBasicBlock(c->fn));
    LLVMPositionBuilderAtEnd(c->b, done);
    Loop lf;
    LLVMValueRef t = loop_begin(c, &lf, "fill", get(c, m, "m"), ki64(c, MAXR), 1);
    st_at(c, LLVMConstInt(c->i32, (unsigned long long)-1, 1), rows, t);
    loop_end(c, &lf);
}

/* Keys [t, t + count) folded into their pages' min and max (page p at entry p / n); metadata in the keys'
 * type keeps the chosen key's bits. */
static void build_page_meta(Cg *c, const KernelDesc *k) {
    int64_t D = k->meta.head_dim, P = k->meta.page, NI = be_meta_interleave(k);
    KernelDType kvt = k->meta.kv, mt = k->meta.mtype;
    LLVMTypeRef mty = kv_type(c, mt), kty = kv_type(c, kvt);
    LLVMValueRef meta = buf(c, 0, mty, "meta"), keys = buf(c, 1, kty, "keys");
    LLVMValueRef t0 = arg(c, 0, "t0"), count = arg(c, 1, "count");
    Loop li, l;
    LLVMValueRef i = loop_begin(c, &li, "i", ki64(c, 0), count, 1);
    LLVMValueRef t = iadd(c, t0, i, "t");
    LLVMValueRef page = LLVMBuildSDiv(c->b, LLVMBuildSDiv(c->b, t, ki64(c, P), ""), ki64(c, NI), "entry");
    LLVMValueRef mn = at(c, mty, meta, imul(c, page, ki64(c, 2 * D), ""), "min");
    LLVMValueRef mx = at(c, mty, mn, ki64(c, D), "max");
    LLVMValueRef key = at(c, kty, keys, imul(c, i, ki64(c, D), ""), "key");
    LLVMValueRef first = icmp(c, LLVMIntEQ, LLVMBuildSRem(c->b, t, ki64(c, P), ""), ki64(c, 0));
    /* the page's first token: its key is the min and the max (a copy of the bits) */
    If f;
    if_begin(c, &f, first, "first");
    LLVMValueRef d = loop_begin(c, &l, "d.open", ki64(c, 0), ki64(c, D), 1);
    LLVMValueRef pk = at(c, kty, key, d, "");
    LLVMValueRef raw = mt == KD_F32 ? load_kv(c, kvt, pk, 1, "v") : ld(c, kty, pk, "key.bits");
    st(c, raw, at(c, mty, mn, d, ""));
    st(c, raw, at(c, mty, mx, d, ""));
    loop_end(c, &l);
    if_else(c, &f);
    /* widen: VL lanes at a time (vectorised here: the loop vectoriser spent twice the time on it), then a
       scalar tail */
    int64_t VL = c->vl, nv = D / VL * VL;
    for (int pass = 0; pass < 2; pass++) {
        int64_t from = pass ? nv : 0, to = pass ? D : nv, n = pass ? 1 : VL;
        if (from >= to)
            continue;
        d = loop_begin(c, &l, pass ? "d.tail" : "d", ki64(c, from), ki64(c, to), n);
        LLVMValueRef pkv = at(c, kty, key, d, "");
        LLVMValueRef v = load_kv(c, kvt, pkv, (int)n, "v");
        LLVMValueRef pmn = at(c, mty, mn, d, ""), pmx = at(c, mty, mx, d, "");
        LLVMValueRef a, b, an, bn, pick_a, pick_b;
        if (mt == KD_F32) {
            a = an = n > 1 ? vld(c, c->f32, (int)n, pmn, "min") : ld(c, c->f32, pmn, "min");
            b = bn = n > 1 ? vld(c, c->f32, (int)n, pmx, "max") : ld(c, c->f32, pmx, "max");
            pick_a = pick_b = v;
        } else {
            an = n > 1 ? vld(c, mty, (int)n, pmn, "min.bits") : ld(c, mty, pmn, "min.bits");
            bn = n > 1 ? vld(c, mty, (int)n, pmx, "max.bits") : ld(c, mty, pmx, "max.bits");
            a = f16_to_f32(c, an, "min");
            b = f16_to_f32(c, bn, "max");
            pick_a = pick_b = n > 1 ? vld(c, kty, (int)n, pkv, "key.bits") : ld(c, kty, pkv, "key.bits");
        }
        LLVMValueRef nmn = sel(c, fcmp(c, LLVMRealOLT, v, a), pick_a, an, "");
        LLVMValueRef nmx = sel(c, fcmp(c, LLVMRealOGT, v, b), pick_b, bn, "");
        if (n > 1) {
            vst(c, nmn, pmn);
            vst(c, nmx, pmx);
        } else {
            st(c, nmn, pmn);
            st(c, nmx, pmx);
        }
        loop_end(c, &l);
    }
    if_end(c, &f);
    loop_end(c, &li);
}

/* ---------------------------------------------------------------- row-wise (as the C target) */

/* The C target's 16-lane sum of f(x[j]) over a row of N, in the same order. f: 0 = x, 1 = x*x,
 * 2 = (x - mean)^2. */
static LLVMValueRef lane_sum(Cg *c, LLVMValueRef xr, int64_t N, int f, LLVMValueRef mean, const char *name) {
    enum { L = 16 };
    LLVMTypeRef lt = vec(c->f32, L);
    LLVMValueRef acc = var(c, lt, "lanes", LLVMConstNull(lt));
    int64_t nv = N / L * L;
    if (nv > 0) {
        Loop l;
        LLVMValueRef j = loop_begin(c, &l, "j", ki64(c, 0), ki64(c, nv), L);
        LLVMValueRef v = vld(c, c->f32, L, at(c, c->f32, xr, j, ""), "x");
        if (f == 2)
            v = fsub(c, v, splat(c, mean, L, ""), "");
        if (f)
            v = fmul(c, v, v, "");
        st(c, fadd(c, get(c, acc, ""), v, ""), acc);
        loop_end(c, &l);
    }
    LLVMValueRef s = var(c, c->f32, name, lanes_sum(c, get(c, acc, ""), ""));
    if (nv < N) {
        Loop l;
        LLVMValueRef j = loop_begin(c, &l, "j.tail", ki64(c, nv), ki64(c, N), 1);
        LLVMValueRef v = ld_at(c, c->f32, xr, j, "x");
        if (f == 2)
            v = fsub(c, v, mean, "");
        if (f)
            v = fmul(c, v, v, "");
        st(c, fadd(c, get(c, s, ""), v, ""), s);
        loop_end(c, &l);
    }
    return get(c, s, name);
}

static void build_norm(Cg *c, const KernelDesc *k) {
    int64_t N = k->row.n;
    bool ln = k->kind == KK_LAYERNORM;
    LLVMValueRef y = buf(c, 0, c->f32, "y"), x = buf(c, 1, c->f32, "x"), w = buf(c, 2, c->f32, "w");
    LLVMValueRef b = ln && k->row.bias ? buf(c, 3, c->f32, "b") : NULL;
    LLVMValueRef R = arg(c, 0, "R"), nf = LLVMConstReal(c->f32, (double)N);
    LLVMValueRef eps = LLVMConstReal(c->f32, k->row.eps), one = LLVMConstReal(c->f32, 1.0);
    Loop lr, lj;
    LLVMValueRef r = loop_begin(c, &lr, "r", ki64(c, 0), R, 1);
    LLVMValueRef xr = at(c, c->f32, x, imul(c, r, ki64(c, N), ""), "x.row");
    LLVMValueRef yr = at(c, c->f32, y, imul(c, r, ki64(c, N), ""), "y.row");
    LLVMValueRef mean = NULL, ss;
    if (ln) {
        mean = fdiv(c, lane_sum(c, xr, N, 0, NULL, "sum"), nf, "mean");
        ss = lane_sum(c, xr, N, 2, mean, "var.sum");
    } else {
        ss = lane_sum(c, xr, N, 1, NULL, "sumsq");
    }
    LLVMValueRef den = fadd(c, fdiv(c, ss, nf, ""), eps, "");
    LLVMValueRef inv = fdiv(c, one, intrinsic(c, "llvm.sqrt", c->f32, &den, 1, ""), "inv");
    LLVMValueRef j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, N), 1);
    LLVMValueRef v = ld_at(c, c->f32, xr, j, "x");
    if (ln)
        v = fsub(c, v, mean, "");
    v = fmul(c, fmul(c, v, inv, ""), ld_at(c, c->f32, w, j, "w"), "");
    if (b)
        v = fadd(c, v, ld_at(c, c->f32, b, j, "b"), "");
    st_at(c, v, yr, j);
    loop_end(c, &lj);
    loop_end(c, &lr);
}

static void build_softmax(Cg *c, const KernelDesc *k) {
    int64_t N = k->row.n;
    LLVMValueRef y = buf(c, 0, c->f32, "y"), x = buf(c, 1, c->f32, "x");
    LLVMValueRef R = arg(c, 0, "R");
    LLVMValueRef ninf = LLVMConstReal(c->f32, -INFINITY), zero = LLVMConstReal(c->f32, 0.0);
    Loop lr, lj;
    LLVMValueRef r = loop_begin(c, &lr, "r", ki64(c, 0), R, 1);
    LLVMValueRef xr = at(c, c->f32, x, imul(c, r, ki64(c, N), ""), "x.row");
    LLVMValueRef yr = at(c, c->f32, y, imul(c, r, ki64(c, N), ""), "y.row");
    LLVMValueRef mx = var(c, c->f32, "max", ninf), sum = var(c, c->f32, "sum", zero);
    LLVMValueRef j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, N), 1);
    LLVMValueRef v = ld_at(c, c->f32, xr, j, "x"), m = get(c, mx, "");
    st(c, sel(c, fcmp(c, LLVMRealOGT, v, m), v, m, ""), mx);
    loop_end(c, &lj);
    m = get(c, mx, "m");
    If f;
    if_begin(c, &f, fcmp(c, LLVMRealOEQ, m, ninf), "empty");
    j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, N), 1);
    st_at(c, zero, yr, j);
    loop_end(c, &lj);
    if_else(c, &f);
    j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, N), 1);
    LLVMValueRef e = libm(c, "expf", fsub(c, ld_at(c, c->f32, xr, j, "x"), m, ""), "e");
    st_at(c, e, yr, j);
    st(c, fadd(c, get(c, sum, ""), e, ""), sum);
    loop_end(c, &lj);
    LLVMValueRef inv = fdiv(c, LLVMConstReal(c->f32, 1.0), get(c, sum, ""), "inv");
    j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, N), 1);
    LLVMValueRef yp = at(c, c->f32, yr, j, "");
    st(c, fmul(c, ld(c, c->f32, yp, ""), inv, ""), yp);
    loop_end(c, &lj);
    if_end(c, &f);
    loop_end(c, &lr);
}

static void build_eltwise(Cg *c, const KernelDesc *k) {
    int64_t N = k->row.n;
    bool two = k->kind == KK_ADD || k->kind == KK_MUL;
    LLVMValueRef y = buf(c, 0, c->f32, "y"), a = buf(c, 1, c->f32, two ? "a" : "x");
    LLVMValueRef b = two ? buf(c, 2, c->f32, "b") : NULL;
    LLVMValueRef total = imul(c, arg(c, 0, "R"), ki64(c, N), "total");
    LLVMValueRef half = LLVMConstReal(c->f32, 0.5), one = LLVMConstReal(c->f32, 1.0);
    Loop l;
    LLVMValueRef i = loop_begin(c, &l, "i", ki64(c, 0), total, 1);
    LLVMValueRef v = ld_at(c, c->f32, a, i, two ? "a" : "x"), r = NULL;
    switch (k->kind) {
    case KK_SILU: r = fdiv(c, v, fadd(c, one, libm(c, "expf", LLVMBuildFNeg(c->b, v, ""), ""), ""), "silu"); break;
    case KK_GELU_TANH: {
        LLVMValueRef cube = fmul(c, fmul(c, fmul(c, LLVMConstReal(c->f32, 0x1.6e4e26p-5f), v, ""), v, ""), v, "");
        LLVMValueRef in = fmul(c, LLVMConstReal(c->f32, 0x1.988454p-1f), fadd(c, v, cube, ""), "");
        r = fmul(c, fmul(c, half, v, ""), fadd(c, one, libm(c, "tanhf", in, ""), ""), "gelu");
        break;
    }
    case KK_GELU_ERF: {
        LLVMValueRef e = libm(c, "erff", fmul(c, v, LLVMConstReal(c->f32, 0x1.6a09e6p-1f), ""), "");
        r = fmul(c, fmul(c, half, v, ""), fadd(c, one, e, ""), "gelu");
        break;
    }
    case KK_RELU:
        r = sel(c, fcmp(c, LLVMRealOGT, v, LLVMConstReal(c->f32, 0.0)), v, LLVMConstReal(c->f32, 0.0), "relu");
        break;
    case KK_ADD: r = fadd(c, v, ld_at(c, c->f32, b, i, "b"), "sum"); break;
    case KK_MUL: r = fmul(c, v, ld_at(c, c->f32, b, i, "b"), "prod"); break;
    default: h2c_unreachable("not an element-wise kernel");
    }
    st_at(c, r, y, i);
    loop_end(c, &l);
}

static void build_rope(Cg *c, const KernelDesc *k) {
    int64_t D = k->rope.head_dim, H = k->rope.heads, ROT = k->rope.rot, HALF = ROT / 2;
    /* the inverse frequencies, as the C target's table */
    LLVMValueRef init[2048];
    for (int64_t i = 0; i < HALF; i++)
        init[i] = LLVMConstReal(c->f64, be_rope_inv_freq(k, (int)i));
    LLVMTypeRef tt = LLVMArrayType(c->f64, (unsigned)HALF);
    char gname[KERNEL_NAME_MAX + 16];
    snprintf(gname, sizeof gname, "%s.inv_freq", c->name);
    LLVMValueRef table = LLVMAddGlobal(c->mod, tt, gname);
    LLVMSetInitializer(table, LLVMConstArray(c->f64, init, (unsigned)HALF));
    LLVMSetGlobalConstant(table, 1);
    LLVMSetLinkage(table, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(table, LLVMGlobalUnnamedAddr);
    LLVMValueRef inv = LLVMBuildBitCast(c->b, table, ptr(c->f64), "inv_freq");

    LLVMValueRef y = buf(c, 0, c->f32, "y"), x = buf(c, 1, c->f32, "x"), pos = buf(c, 2, c->i32, "pos");
    LLVMValueRef R = arg(c, 0, "R");
    LLVMValueRef cs = local_array(c, c->f32, HALF, "cos"), sn = local_array(c, c->f32, HALF, "sin");
    Loop lr, li, lh;
    LLVMValueRef r = loop_begin(c, &lr, "r", ki64(c, 0), R, 1);
    LLVMValueRef pd = LLVMBuildSIToFP(c->b, ld_at(c, c->i32, pos, r, "pos"), c->f64, "");
    LLVMValueRef i = loop_begin(c, &li, "i", ki64(c, 0), ki64(c, HALF), 1);
    LLVMValueRef angle = fmul(c, pd, ld_at(c, c->f64, inv, i, ""), "angle");
    st_at(c, LLVMBuildFPTrunc(c->b, libm(c, "cos", angle, ""), c->f32, "c"), cs, i);
    st_at(c, LLVMBuildFPTrunc(c->b, libm(c, "sin", angle, ""), c->f32, "s"), sn, i);
    loop_end(c, &li);
    LLVMValueRef h = loop_begin(c, &lh, "h", ki64(c, 0), ki64(c, H), 1);
    LLVMValueRef base = imul(c, iadd(c, imul(c, r, ki64(c, H), ""), h, ""), ki64(c, D), "");
    LLVMValueRef xh = at(c, c->f32, x, base, "x.head"), yh = at(c, c->f32, y, base, "y.head");
    i = loop_begin(c, &li, "i", ki64(c, 0), ki64(c, HALF), 1);
    LLVMValueRef i2 = iadd(c, i, ki64(c, HALF), "");
    LLVMValueRef x0 = ld_at(c, c->f32, xh, i, "x0"), x1 = ld_at(c, c->f32, xh, i2, "x1");
    LLVMValueRef cv = ld_at(c, c->f32, cs, i, "c"), sv = ld_at(c, c->f32, sn, i, "s");
    st_at(c, fsub(c, fmul(c, x0, cv, ""), fmul(c, x1, sv, ""), ""), yh, i);
    st_at(c, fadd(c, fmul(c, x1, cv, ""), fmul(c, x0, sv, ""), ""), yh, i2);
    loop_end(c, &li);
    if (ROT < D) {
        i = loop_begin(c, &li, "pass", ki64(c, ROT), ki64(c, D), 1);
        st_at(c, ld_at(c, c->f32, xh, i, ""), yh, i);
        loop_end(c, &li);
    }
    loop_end(c, &lh);
    loop_end(c, &lr);
}

static void build_embed(Cg *c, const KernelDesc *k) {
    int64_t H = k->embed.hidden, V = k->embed.vocab;
    int vl = c->vl;
    LLVMValueRef y = buf(c, 0, c->f32, "y"), table = buf(c, 1, c->i16, "table"), ids = buf(c, 2, c->i32, "ids");
    LLVMValueRef R = arg(c, 0, "R");
    Loop lr, lj;
    LLVMValueRef r = loop_begin(c, &lr, "r", ki64(c, 0), R, 1);
    LLVMValueRef id = LLVMBuildSExt(c->b, ld_at(c, c->i32, ids, r, ""), c->i64, "id");
    LLVMValueRef yr = at(c, c->f32, y, imul(c, r, ki64(c, H), ""), "y.row");
    LLVMValueRef ok = LLVMBuildAnd(c->b, icmp(c, LLVMIntSGE, id, ki64(c, 0)), icmp(c, LLVMIntSLT, id, ki64(c, V)), "");
    If f;
    if_begin(c, &f, ok, "valid");
    LLVMValueRef tr = at(c, c->i16, table, imul(c, id, ki64(c, H), ""), "t.row");
    int64_t nv = H / vl * vl;
    if (nv > 0) {
        LLVMValueRef j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, nv), vl);
        LLVMValueRef v = f16_to_f32(c, vld(c, c->i16, vl, at(c, c->i16, tr, j, ""), ""), "v");
        vst(c, v, at(c, c->f32, yr, j, ""));
        loop_end(c, &lj);
    }
    if (nv < H) {
        LLVMValueRef j = loop_begin(c, &lj, "j.tail", ki64(c, nv), ki64(c, H), 1);
        st_at(c, f16_to_f32(c, ld_at(c, c->i16, tr, j, ""), "v"), yr, j);
        loop_end(c, &lj);
    }
    if_else(c, &f);
    LLVMValueRef j = loop_begin(c, &lj, "j", ki64(c, 0), ki64(c, H), 1);
    st_at(c, LLVMConstReal(c->f32, 0.0), yr, j);
    loop_end(c, &lj);
    if_end(c, &f);
    loop_end(c, &lr);
}

/* ---------------------------------------------------------------- units: module, target machine */

/* One LLVM module of kernels and what it is compiled for. */
typedef struct LUnit {
    LLVMContextRef ctx;             /* owned by tsc when set, else by the unit */
    LLVMOrcThreadSafeContextRef tsc;/* the JIT's context; NULL for a .ll unit */
    LLVMModuleRef mod;              /* owned until it moves into a ThreadSafeModule */
    LLVMTargetMachineRef tm;        /* owned until it moves into the JIT's target machine builder */
    char *triple, *cpu, *features;  /* LLVM messages (LLVMDisposeMessage) */
    int vl;                         /* fp32 lanes */
    bool f16c;                      /* widen fp16 with vcvtph2ps */
    bool portable;                  /* no x86-specific intrinsic (KernelOptions.portable) */
    KernelDesc *descs;              /* the kernels built, in order */
    int count, cap;
    bool optimised;                 /* default<O3> has run */
} LUnit;

static bool llvm_ok(LLVMErrorRef e, Diag *d, const char *what) {
    if (!e)
        return true;
    char *msg = LLVMGetErrorMessage(e);     /* consumes e */
    diag_error(d, NOLOC, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return false;
}

/* Whether the comma-separated feature list turns `f` ("avx512f") on: its last +f or -f decides. */
static bool has_feature(const char *features, const char *f) {
    size_t n = strlen(f);
    bool on = false;
    for (const char *p = features; (p = strstr(p, f)) != NULL; p += n)
        if (p > features && (p[-1] == '+' || p[-1] == '-') && (p - 1 == features || p[-2] == ',') &&
            (p[n] == ',' || p[n] == '\0'))
            on = p[-1] == '+';
    return on;
}

static void unit_close(void *p) {
    LUnit *u = p;
    if (!u)
        return;
    if (u->mod)
        LLVMDisposeModule(u->mod);
    if (u->tsc)
        LLVMOrcDisposeThreadSafeContext(u->tsc);
    else if (u->ctx)
        LLVMContextDispose(u->ctx);
    if (u->tm)
        LLVMDisposeTargetMachine(u->tm);
    if (u->triple)
        LLVMDisposeMessage(u->triple);
    if (u->cpu)
        LLVMDisposeMessage(u->cpu);
    if (u->features)
        LLVMDisposeMessage(u->features);
    h2c_raw_free(u->descs, sizeof *u->descs * (size_t)u->cap);
    h2c_raw_free(u, sizeof *u);
}

/* LLVM's target registry is filled once per process: its initialisers append to a global list and
 * race when units open on several threads at once (h2c compile --jit compiles modules on threads
 * while the .ll file is made), so they run once, under pthread_once. */
static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static bool native_ok;

static void native_init(void) { native_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter(); }

/* A unit for the host: its target machine, and a module in a fresh context (a ThreadSafeContext's
 * when `jit`). Units may be opened on several threads, each with its own context. */
static LUnit *unit_open(const char *name, const KernelOptions *o, bool jit, Diag *d) {
    if (o->vector_width != 0 && o->vector_width != 4 && o->vector_width != 8 && o->vector_width != 16) {
        diag_error(d, NOLOC, "vector width %d: must be 0 (from the host), 4, 8 or 16", o->vector_width);
        return NULL;
    }
    pthread_once(&native_once, native_init);
    if (!native_ok) {
        diag_error(d, NOLOC, "LLVM has no code generator for this host");
        return NULL;
    }
    LUnit *u = h2c_raw_alloc(sizeof *u);
    if (!u) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    memset(u, 0, sizeof *u);
    u->triple = LLVMGetDefaultTargetTriple();
    u->cpu = LLVMGetHostCPUName();
    u->features = LLVMGetHostCPUFeatures();
    if (o->features && *o->features) {   /* later entries win: "-avx512f" turns AVX-512 off */
        char *host = u->features;
        size_t n = strlen(host) + strlen(o->features) + 2;
        char *all = h2c_raw_alloc(n);
        if (all)
            snprintf(all, n, "%s,%s", host, o->features);
        u->features = all ? LLVMCreateMessage(all) : NULL;
        h2c_raw_free(all, n);
        LLVMDisposeMessage(host);
        if (!u->features) {
            diag_error(d, NOLOC, "out of memory");
            unit_close(u);
            return NULL;
        }
    }
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(u->triple, &target, &err)) {
        diag_error(d, NOLOC, "LLVM target %s: %s", u->triple, err ? err : "unknown");
        LLVMDisposeMessage(err);
        unit_close(u);
        return NULL;
    }
    u->tm = LLVMCreateTargetMachine(target, u->triple, u->cpu, u->features, LLVMCodeGenLevelAggressive,
                                    LLVMRelocDefault, LLVMCodeModelJITDefault);
    if (!u->tm) {
        diag_error(d, NOLOC, "LLVM cannot make a target machine for %s (%s)", u->triple, u->cpu);
        unit_close(u);
        return NULL;
    }
    u->vl = o->vector_width ? o->vector_width
            : has_feature(u->features, "avx512f") ? 16
            : has_feature(u->features, "avx") ? 8 : 4;
    u->f16c = !o->portable && has_feature(u->features, "f16c");
    u->portable = o->portable;
    if (jit) {
        u->tsc = LLVMOrcCreateNewThreadSafeContext();
        u->ctx = LLVMOrcThreadSafeContextGetContext(u->tsc);
    } else {
        u->ctx = LLVMContextCreate();
    }
    u->mod = LLVMModuleCreateWithNameInContext(name, u->ctx);
    LLVMSetTarget(u->mod, u->triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(u->tm);
    LLVMSetModuleDataLayout(u->mod, dl);
    LLVMDisposeTargetData(dl);
    return u;
}

static bool unit_add(LUnit *u, const KernelDesc *k, Diag *d) {
    if (!be_kernel_check(k, d))
        return false;
    for (int i = 0; i < u->count; i++)
        if (be_kernel_equal(&u->descs[i], k))
            return true;
    if (u->count == u->cap) {
        int ncap = u->cap ? 2 * u->cap : 16;
        KernelDesc *p = h2c_raw_realloc(u->descs, sizeof *p * (size_t)u->cap, sizeof *p * (size_t)ncap);
        if (!p) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        u->descs = p;
        u->cap = ncap;
    }
    u->descs[u->count++] = *k;
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Cg c = {.ctx = u->ctx, .mod = u->mod, .cpu = u->cpu, .features = u->features, .vl = u->vl, .f16c = u->f16c};
    c.b = LLVMCreateBuilderInContext(u->ctx);
    c.ab = LLVMCreateBuilderInContext(u->ctx);
    c.i1 = LLVMInt1TypeInContext(u->ctx);
    c.i8 = LLVMInt8TypeInContext(u->ctx);
    c.i16 = LLVMInt16TypeInContext(u->ctx);
    c.i32 = LLVMInt32TypeInContext(u->ctx);
    c.i64 = LLVMInt64TypeInContext(u->ctx);
    c.f16 = LLVMHalfTypeInContext(u->ctx);
    c.f32 = LLVMFloatTypeInContext(u->ctx);
    c.f64 = LLVMDoubleTypeInContext(u->ctx);
    c.vf = vec(c.f32, u->vl);
    c.lut16 = u->vl == 16 && !u->portable && has_feature(u->features, "avx512f");
    fn_begin(&c, name);
    switch (k->kind) {
    case KK_GEMM: build_gemm(&c, k); break;
    case KK_ATTN: build_attn(&c, k); break;
    case KK_MERGE: build_merge(&c, k); break;
    case KK_PAGE_SCORE: build_page_score(&c, k); break;
    case KK_PAGE_META: build_page_meta(&c, k); break;
    case KK_TOPK: build_topk(&c, k); break;
    case KK_PAGE_ROWS: build_page_rows(&c, k); break;
    case KK_SOFTMAX: build_softmax(&c, k); break;
    case KK_RMSNORM:
    case KK_LAYERNORM: build_norm(&c, k); break;
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU:
    case KK_ADD:
    case KK_MUL: build_eltwise(&c, k); break;
    case KK_ROPE: build_rope(&c, k); break;
    case KK_EMBED: build_embed(&c, k); break;
    case KK_COUNT_: h2c_unreachable("bad kernel kind");
    }
    fn_end(&c);
    LLVMDisposeBuilder(c.b);
    LLVMDisposeBuilder(c.ab);
    return true;
}

/* LLVMVerifyModule, then default<O3> for the unit's target machine. */
static bool unit_optimise(LUnit *u, Diag *d) {
    if (u->optimised)
        return true;
    char *msg = NULL;
    if (LLVMVerifyModule(u->mod, LLVMReturnStatusAction, &msg)) {
        diag_error(d, NOLOC, "internal error: the kernels' LLVM IR does not verify: %s", msg ? msg : "");
        LLVMDisposeMessage(msg);
        return false;
    }
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    /* The hot loops are unrolled here, by hand, into independent accumulators; LLVM's unroller
     * would mostly grow cold loops, for a fifth of the compile time (measured, docs/kernels.md).
     * The loop vectoriser and its interleaving stay on: the element-wise kernels use them. */
    LLVMPassBuilderOptionsSetLoopUnrolling(po, 0);
    bool ok = llvm_ok(LLVMRunPasses(u->mod, "default<O3>", u->tm, po), d, "LLVM optimisation");
    LLVMDisposePassBuilderOptions(po);
    u->optimised = ok;
    return ok;
}

/* ---------------------------------------------------------------- the .ll target */

static void *ll_open(const char *unit, const KernelOptions *o, Diag *d) { return unit_open(unit, o, false, d); }
static bool ll_add(void *u, const KernelDesc *k, Diag *d) { return unit_add(u, k, d); }

static bool ll_write(void *p, FILE *out, Diag *d) {
    LUnit *u = p;
    if (!unit_optimise(u, d))
        return false;
    char *text = LLVMPrintModuleToString(u->mod);
    fprintf(out, "; %d h2c kernel%s for %s, cpu %s, %d fp32 lanes%s (docs/kernels.md)\n", u->count,
            u->count == 1 ? "" : "s", u->triple, u->cpu, u->vl, u->f16c ? ", f16c" : "");
    fputs(text, out);
    LLVMDisposeMessage(text);
    return true;
}

const KernelTarget be_target_llvm = {"llvm", ".kernels.ll", ll_open, ll_add, ll_write, unit_close};

/* ---------------------------------------------------------------- the JIT */

struct KernelJit {
    LLVMOrcLLJITRef jit;    /* owns the compiled code */
    KernelDesc *descs;      /* the kernels, and their entry points */
    KernelFn *fns;
    int count;
    char *ir;               /* the optimised module's text (keep_ir), or NULL */
    size_t ir_size;
    char target[160];       /* be_jit_target */
    double t_build, t_codegen, t_cpu;
};

/* CPU seconds of this thread (LLJIT compiles on the thread that looks a symbol up). */
static double thread_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void be_jit_free(KernelJit *j) {
    if (!j)
        return;
    if (j->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
        if (e)  /* nothing left to report it to: drop it */
            LLVMConsumeError(e);
    }
    h2c_raw_free(j->descs, sizeof *j->descs * (size_t)j->count);
    h2c_raw_free(j->fns, sizeof *j->fns * (size_t)j->count);
    h2c_raw_free(j->ir, j->ir_size);
    h2c_raw_free(j, sizeof *j);
}

KernelJit *be_jit_compile(const KernelDesc *descs, int n, const KernelOptions *o, Diag *d) {
    KernelOptions defaults = {0};
    if (!o)
        o = &defaults;
    int errors = d->errors;
    for (int i = 0; i < n; i++)
        be_kernel_check(&descs[i], d);
    if (d->errors > errors)
        return NULL;
    double t0 = h2c_seconds(), c0 = thread_seconds();
    LLVMOrcLLJITBuilderRef builder = NULL;
    LLVMOrcThreadSafeModuleRef tsm = NULL;
    KernelJit *j = h2c_raw_alloc(sizeof *j);
    if (j)
        memset(j, 0, sizeof *j);
    LUnit *u = unit_open("h2c_kernels", o, true, d);
    if (!j || !u) {
        if (!j)
            diag_error(d, NOLOC, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (!unit_add(u, &descs[i], d))
            goto fail;
    if (!unit_optimise(u, d))
        goto fail;
    snprintf(j->target, sizeof j->target, "%s, cpu %s, %d fp32 lanes%s", u->triple, u->cpu, u->vl,
             u->f16c ? ", f16c" : "");
    if (o->keep_ir) {
        char *text = LLVMPrintModuleToString(u->mod);
        j->ir_size = strlen(text) + 1;
        j->ir = h2c_raw_alloc(j->ir_size);
        if (j->ir)
            memcpy(j->ir, text, j->ir_size);
        LLVMDisposeMessage(text);
        if (!j->ir) {
            j->ir_size = 0;
            diag_error(d, NOLOC, "out of memory");
            goto fail;
        }
    }
    j->count = u->count;
    j->descs = h2c_raw_alloc(sizeof *j->descs * (size_t)u->count);
    j->fns = h2c_raw_alloc(sizeof *j->fns * (size_t)u->count);
    if (!j->descs || !j->fns) {
        diag_error(d, NOLOC, "out of memory");
        goto fail;
    }
    memcpy(j->descs, u->descs, sizeof *j->descs * (size_t)u->count);
    double t1 = h2c_seconds();

    /* the target machine moves into the builder (and is destroyed there): the JIT compiles for
     * the same CPU, features and optimisation level as the passes above */
    LLVMOrcJITTargetMachineBuilderRef jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(u->tm);
    u->tm = NULL;
    builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);   /* jtmb now belongs to builder */
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);          /* builder now belongs to the JIT */
    builder = NULL;
    if (!llvm_ok(e, d, "LLVM JIT")) {
        j->jit = NULL;
        goto fail;
    }
    /* libm and libc symbols (expf, logf, memset...) come from this process */
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
    if (!llvm_ok(e, d, "LLVM JIT process symbols"))
        goto fail;
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);   /* gen now belongs to the dylib */
    tsm = LLVMOrcCreateNewThreadSafeModule(u->mod, u->tsc);                  /* the module now belongs to tsm */
    u->mod = NULL;
    e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);  /* tsm now belongs to the JIT */
    tsm = NULL;
    if (!llvm_ok(e, d, "LLVM JIT: adding the kernels' module"))
        goto fail;
    /* the first lookup compiles the whole module */
    for (int i = 0; i < j->count; i++) {
        char name[KERNEL_NAME_MAX];
        be_kernel_name(&j->descs[i], name);
        LLVMOrcExecutorAddress addr = 0;
        if (!llvm_ok(LLVMOrcLLJITLookup(j->jit, &addr, name), d, name))
            goto fail;
        j->fns[i] = (KernelFn)(uintptr_t)addr;
    }
    j->t_build = t1 - t0;
    j->t_codegen = h2c_seconds() - t1;
    j->t_cpu = thread_seconds() - c0;
    unit_close(u);  /* the unit's context lives on in the JIT (the ThreadSafeContext is shared) */
    return j;

fail:
    if (tsm)
        LLVMOrcDisposeThreadSafeModule(tsm);
    if (builder)
        LLVMOrcDisposeLLJITBuilder(builder);
    unit_close(u);
    be_jit_free(j);
    return NULL;
}

KernelFn be_jit_lookup(const KernelJit *j, const KernelDesc *k, Diag *d) {
    for (int i = 0; i < j->count; i++)
        if (be_kernel_equal(&j->descs[i], k))
            return j->fns[i];
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    diag_error(d, NOLOC, "kernel %s was not compiled", name);
    return NULL;
}

KernelFn be_jit_lookup_name(const KernelJit *j, const char *name) {
    char buf[KERNEL_NAME_MAX];
    for (int i = 0; i < j->count; i++) {
        be_kernel_name(&j->descs[i], buf);
        if (strcmp(buf, name) == 0)
            return j->fns[i];
    }
    return NULL;
}

const char *be_jit_ir(const KernelJit *j) { return j->ir; }
const char *be_jit_target(const KernelJit *j) { return j->target; }

void be_jit_times(const KernelJit *j, double *build_opt, double *codegen, double *cpu) {
    if (build_opt)
        *build_opt = j->t_build;
    if (codegen)
        *codegen = j->t_codegen;
    if (cpu)
        *cpu = j->t_cpu;
}
