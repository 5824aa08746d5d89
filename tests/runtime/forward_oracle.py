"""forward_oracle.py: an independent numpy forward pass (following the Hugging Face modelling code:
LlamaForCausalLM, GPTNeoXForCausalLM, OPTForCausalLM, GemmaForCausalLM) of the small models that
forward_dump.c runs through runtime/forward.c, from the weights it wrote; compares hidden states
after every layer and the logits of a prefill and three decode steps.
usage: forward_oracle.py VARIANT DIR"""
import math
import os
import sys

import numpy as np

LAYERS, HIDDEN, HEADS, KV, HD, VOCAB, INTER, BATCH, PROMPT, STEPS = 2, 48, 4, 2, 12, 61, 80, 2, 5, 3


def load(d, name, shape):
    return np.fromfile(os.path.join(d, name + ".bin"), dtype="<f8").reshape(shape)


def rms_norm(x, w, eps, unit_offset=False):
    # Gemma's RMSNorm scales by (1 + weight)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * ((1.0 + w) if unit_offset else w)


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def inv_freq(rot, theta, scaling, factor=1.0, low=1.0, high=4.0, orig=8):
    f = 1.0 / (theta ** (np.arange(0, rot, 2, dtype=np.float64) / rot))
    if scaling == "llama3":   # transformers' _compute_llama3_parameters
        low_wl, high_wl = orig / low, orig / high
        out = []
        for x in f:
            wl = 2 * math.pi / x
            if wl < high_wl:
                out.append(x)
            elif wl > low_wl:
                out.append(x / factor)
            else:
                sm = (orig / wl - low) / (high - low)
                out.append((1 - sm) * x / factor + sm * x)
        f = np.array(out)
    return f


def rope(x, pos, rot, freqs):
    # x: [n, heads, d]; rotate_half on the first rot dims (cat(-x2, x1)), the rest passes
    ang = np.outer(pos, freqs)                       # [n, rot/2]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)[:, None, :]
    xr, xp = x[..., :rot], x[..., rot:]
    h = rot // 2
    rh = np.concatenate([-xr[..., h:], xr[..., :h]], axis=-1)
    return np.concatenate([xr * cos + rh * sin, xp], axis=-1)


def main():
    variant, d = sys.argv[1], sys.argv[2]
    opt, neox, gemma, mistral = variant == "opt", variant == "neox", variant == "gemma", variant == "mistral"
    scaled = variant == "llama3-scaled"
    theta = 500000.0 if scaled else 10000.0
    rot = HD // 2 if neox else HD
    freqs = inv_freq(rot, theta, "llama3" if scaled else None, 8.0, 1.0, 4.0, 8)
    eps = 1e-5
    W = lambda n, l=0: load(d, "w.%s.%d" % (n, l), None)
    B = lambda n, l=0: load(d, "b.%s.%d" % (n, l), None)
    emb = W("embed").reshape(VOCAB, HIDDEN)
    toks = load(d, "tokens", None).astype(int)
    kcache = [np.zeros((BATCH, 0, KV, HD)) for _ in range(LAYERS)]
    vcache = [np.zeros((BATCH, 0, KV, HD)) for _ in range(LAYERS)]
    worst = 0.0
    pos0 = 0
    for step in range(STEPS + 1):
        if step == 0:
            t = toks[:BATCH * PROMPT].reshape(BATCH, PROMPT)
        else:
            t = toks[BATCH * PROMPT + (step - 1) * BATCH:BATCH * PROMPT + step * BATCH].reshape(BATCH, 1)
        n = t.shape[1]
        x = emb[t] * (math.sqrt(HIDDEN) if gemma else 1.0)       # [B, n, H]
        pos = np.arange(pos0, pos0 + n)
        if opt:   # OPTLearnedPositionalEmbedding: row = position + 2
            x = x + W("pos").reshape(-1, HIDDEN)[pos + 2][None, :, :]
        for l in range(LAYERS):
            def norm(name, v):
                w = W(name, l)
                return layer_norm(v, w, B(name, l), eps) if (opt or neox) else rms_norm(v, w, eps, gemma)
            h = norm("n1", x)
            q = h @ W("q", l).reshape(HIDDEN, HEADS * HD) + B("q", l)
            k = h @ W("k", l).reshape(HIDDEN, KV * HD) + B("k", l)
            v = h @ W("v", l).reshape(HIDDEN, KV * HD) + B("v", l)
            q = q.reshape(BATCH, n, HEADS, HD)
            k = k.reshape(BATCH, n, KV, HD)
            v = v.reshape(BATCH, n, KV, HD)
            if not opt:
                q = np.stack([rope(q[b], pos, rot, freqs) for b in range(BATCH)])
                k = np.stack([rope(k[b], pos, rot, freqs) for b in range(BATCH)])
            kcache[l] = np.concatenate([kcache[l], k], axis=1)
            vcache[l] = np.concatenate([vcache[l], v], axis=1)
            K, V = kcache[l], vcache[l]                          # [B, ctx, KV, HD]
            g = HEADS // KV
            K = np.repeat(K, g, axis=2)                          # repeat_kv
            V = np.repeat(V, g, axis=2)
            ctx = K.shape[1]
            sc = np.einsum("bnhd,bchd->bhnc", q, K) / math.sqrt(HD)
            mask = np.arange(ctx)[None, :] > (pos[:, None])      # causal
            if mistral:   # sliding window of 3: key j is seen by query i when i - 3 < j <= i
                mask = mask | (np.arange(ctx)[None, :] <= pos[:, None] - 3)
            sc = np.where(mask[None, None], -np.inf, sc)
            sc = sc - sc.max(axis=-1, keepdims=True)
            p = np.exp(sc)
            p = p / p.sum(axis=-1, keepdims=True)
            a = np.einsum("bhnc,bchd->bnhd", p, V).reshape(BATCH, n, HEADS * HD)
            o = a @ W("o", l).reshape(HEADS * HD, HIDDEN)
            if opt or neox:
                o = o + B("o", l)
            if neox:
                h2 = norm("n2", x)
            else:
                r1 = x + o
                h2 = norm("n2", r1)
            if opt or neox:
                f = h2 @ W("f1", l).reshape(HIDDEN, INTER) + B("f1", l)
                f = np.maximum(f, 0) if opt else 0.5 * f * (1 + np.vectorize(math.erf)(f / math.sqrt(2)))
                mlp = f @ W("f2", l).reshape(INTER, HIDDEN) + B("f2", l)
            else:
                f1 = h2 @ W("f1", l).reshape(HIDDEN, INTER)
                f3 = h2 @ W("f3", l).reshape(HIDDEN, INTER)
                if gemma:
                    c = math.sqrt(2 / math.pi)
                    act = 0.5 * f1 * (1 + np.tanh(c * (f1 + 0.044715 * f1 ** 3)))
                else:
                    act = f1 / (1 + np.exp(-f1))
                mlp = (act * f3) @ W("f2", l).reshape(INTER, HIDDEN)
            x = (x + o + mlp) if neox else (r1 + mlp)
            got = load(d, "hidden.%d.%d" % (step, l), None).reshape(BATCH, n, HIDDEN)
            err = np.max(np.abs(got - x)) / max(1e-300, np.max(np.abs(x)))
            worst = max(worst, err)
        last = x[:, -1, :]
        nf = layer_norm(last, W("nf"), B("nf"), eps) if (opt or neox) else rms_norm(last, W("nf"), eps, gemma)
        lm = emb.T if (opt or gemma) else W("lm").reshape(HIDDEN, VOCAB)
        logits = nf @ lm
        got = load(d, "logits.%d" % step, None).reshape(BATCH, VOCAB)
        err = np.max(np.abs(got - logits)) / max(1e-300, np.max(np.abs(logits)))
        worst = max(worst, err)
        pos0 += n
    print("%s: worst relative difference %.3g over 4 steps (hidden after each layer, logits)" % (variant, worst))
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
