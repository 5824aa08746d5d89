"""hf_oracle.py: tiny Hugging Face checkpoints (config.json + model.safetensors, random weights) of
four families, and an independent numpy forward pass that follows the Hugging Face modelling code
(LlamaForCausalLM, Qwen2ForCausalLM, OPTForCausalLM, GPTNeoXForCausalLM) on them.
  hf_oracle.py make DIR FAMILY   writes the checkpoint, the token ids and the expected logits
  hf_oracle.py check DIR         compares DIR/logits.bin (what h2c computed) with the expected ones
Logits: a prefill of 5 tokens for each of 2 sequences, then 4 decode steps, [step][batch][vocab]."""
import json
import math
import os
import struct
import sys

import numpy as np

L, H, NH, KV, V, I = 2, 64, 4, 2, 97, 96
B, P, STEPS = 2, 5, 4


def cfg(fam):
    if fam == "llama":
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
                "intermediate_size": I, "num_attention_heads": NH, "num_key_value_heads": KV,
                "num_hidden_layers": L, "vocab_size": V, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "hidden_act": "silu", "max_position_embeddings": 64, "tie_word_embeddings": False,
                "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8}}
    if fam == "mistral":     # Llama's layers with a sliding window of 3 keys (of the 9 tokens)
        return {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": H,
                "intermediate_size": I, "num_attention_heads": NH, "num_key_value_heads": KV,
                "num_hidden_layers": L, "vocab_size": V, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "hidden_act": "silu", "max_position_embeddings": 64, "tie_word_embeddings": False,
                "sliding_window": 3}
    if fam == "qwen2":
        return {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": H,
                "intermediate_size": I, "num_attention_heads": NH, "num_key_value_heads": 1,
                "num_hidden_layers": L, "vocab_size": V, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                "hidden_act": "silu", "max_position_embeddings": 64, "tie_word_embeddings": True,
                "use_sliding_window": False}
    if fam == "opt":
        return {"architectures": ["OPTForCausalLM"], "model_type": "opt", "hidden_size": H, "ffn_dim": I,
                "num_attention_heads": NH, "num_hidden_layers": L, "vocab_size": V,
                "max_position_embeddings": 32, "activation_function": "relu", "do_layer_norm_before": True,
                "enable_bias": True, "word_embed_proj_dim": H}
    if fam == "neox":
        return {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": H,
                "intermediate_size": I, "num_attention_heads": NH, "num_hidden_layers": L, "vocab_size": V,
                "layer_norm_eps": 1e-5, "rotary_pct": 0.5, "rotary_emb_base": 10000, "hidden_act": "gelu",
                "max_position_embeddings": 64, "use_parallel_residual": True, "tie_word_embeddings": False}
    raise SystemExit("unknown family " + fam)


def weights(fam, c, rng):
    w = {}
    kvh = c.get("num_key_value_heads", NH)
    d = H // NH

    def lin(name, out, inp, bias=False):
        w[name + ".weight"] = (rng.standard_normal((out, inp)) / math.sqrt(inp)).astype(np.float32)
        if bias:
            w[name + ".bias"] = (0.05 * rng.standard_normal(out)).astype(np.float32)

    def norm(name, bias=False):
        w[name + ".weight"] = (1 + 0.2 * rng.standard_normal(H)).astype(np.float32)
        if bias:
            w[name + ".bias"] = (0.05 * rng.standard_normal(H)).astype(np.float32)

    if fam in ("llama", "mistral", "qwen2"):
        w["model.embed_tokens.weight"] = rng.standard_normal((V, H)).astype(np.float32)
        for l in range(L):
            p = "model.layers.%d." % l
            norm(p + "input_layernorm")
            lin(p + "self_attn.q_proj", NH * d, H, fam == "qwen2")
            lin(p + "self_attn.k_proj", kvh * d, H, fam == "qwen2")
            lin(p + "self_attn.v_proj", kvh * d, H, fam == "qwen2")
            lin(p + "self_attn.o_proj", H, NH * d)
            norm(p + "post_attention_layernorm")
            lin(p + "mlp.gate_proj", I, H)
            lin(p + "mlp.up_proj", I, H)
            lin(p + "mlp.down_proj", H, I)
        norm("model.norm")
        if not c["tie_word_embeddings"]:
            lin("lm_head", V, H)
    elif fam == "opt":
        w["model.decoder.embed_tokens.weight"] = rng.standard_normal((V, H)).astype(np.float32)
        w["model.decoder.embed_positions.weight"] = (0.3 * rng.standard_normal((c["max_position_embeddings"] + 2, H))).astype(np.float32)
        for l in range(L):
            p = "model.decoder.layers.%d." % l
            norm(p + "self_attn_layer_norm", True)
            for x in ("q_proj", "k_proj", "v_proj", "out_proj"):
                lin(p + "self_attn." + x, H, H, True)
            norm(p + "final_layer_norm", True)
            lin(p + "fc1", I, H, True)
            lin(p + "fc2", H, I, True)
        norm("model.decoder.final_layer_norm", True)
    else:
        w["gpt_neox.embed_in.weight"] = rng.standard_normal((V, H)).astype(np.float32)
        for l in range(L):
            p = "gpt_neox.layers.%d." % l
            norm(p + "input_layernorm", True)
            norm(p + "post_attention_layernorm", True)
            lin(p + "attention.query_key_value", 3 * H, H, True)
            lin(p + "attention.dense", H, H, True)
            lin(p + "mlp.dense_h_to_4h", I, H, True)
            lin(p + "mlp.dense_4h_to_h", H, I, True)
        norm("gpt_neox.final_layer_norm", True)
        lin("embed_out", V, H)
    return w


def save_safetensors(path, tensors):
    hdr, off, blobs = {}, 0, []
    for name, a in tensors.items():
        b = a.astype("<f4").tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * w


def ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def inv_freq(rot, c):
    f = 1.0 / (c.get("rope_theta", c.get("rotary_emb_base", 10000.0)) ** (np.arange(0, rot, 2) / rot))
    rs = c.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        lo, hi, fac, orig = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"], rs["original_max_position_embeddings"]
        out = []
        for x in f:
            wl = 2 * math.pi / x
            if wl < orig / hi:
                out.append(x)
            elif wl > orig / lo:
                out.append(x / fac)
            else:
                s = (orig / wl - lo) / (hi - lo)
                out.append((1 - s) * x / fac + s * x)
        f = np.array(out)
    return f


def rope(x, pos, rot, f):
    ang = np.outer(pos, f)
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    xr, xp = x[..., :rot], x[..., rot:]
    h = rot // 2
    return np.concatenate([xr * cos + np.concatenate([-xr[..., h:], xr[..., :h]], -1) * sin, xp], -1)


def forward(fam, c, w, toks):
    """toks: [B, P + STEPS]; the logits of the prefill's last position and of each decode step."""
    d = H // NH
    kvh = c.get("num_key_value_heads", NH)
    eps = c.get("rms_norm_eps", c.get("layer_norm_eps", 1e-5))
    rot = int(d * c.get("rotary_pct", 1.0))
    f = inv_freq(rot, c)
    W = lambda n: w[n].astype(np.float64)
    kc = [np.zeros((B, 0, kvh, d)) for _ in range(L)]
    vc = [np.zeros((B, 0, kvh, d)) for _ in range(L)]
    out, pos0 = [], 0
    for step in range(STEPS + 1):
        t = toks[:, :P] if step == 0 else toks[:, P + step - 1:P + step]
        n = t.shape[1]
        pos = np.arange(pos0, pos0 + n)
        if fam == "opt":
            x = W("model.decoder.embed_tokens.weight")[t] + W("model.decoder.embed_positions.weight")[pos + 2][None]
        elif fam == "neox":
            x = W("gpt_neox.embed_in.weight")[t]
        else:
            x = W("model.embed_tokens.weight")[t]
        for l in range(L):
            if fam in ("llama", "mistral", "qwen2"):
                p = "model.layers.%d." % l
                h = rms(x, W(p + "input_layernorm.weight"), eps)
                lin = lambda v, m: v @ W(p + m + ".weight").T + (W(p + m + ".bias") if p + m + ".bias" in w else 0)
                q, k, vv = lin(h, "self_attn.q_proj"), lin(h, "self_attn.k_proj"), lin(h, "self_attn.v_proj")
            elif fam == "opt":
                p = "model.decoder.layers.%d." % l
                h = ln(x, W(p + "self_attn_layer_norm.weight"), W(p + "self_attn_layer_norm.bias"), 1e-5)
                lin = lambda v, m: v @ W(p + m + ".weight").T + W(p + m + ".bias")
                q, k, vv = lin(h, "self_attn.q_proj"), lin(h, "self_attn.k_proj"), lin(h, "self_attn.v_proj")
            else:
                p = "gpt_neox.layers.%d." % l
                h = ln(x, W(p + "input_layernorm.weight"), W(p + "input_layernorm.bias"), eps)
                lin = lambda v, m: v @ W(p + m + ".weight").T + W(p + m + ".bias")
                qkv = lin(h, "attention.query_key_value").reshape(B, n, NH, 3 * d)   # per head [q | k | v]
                q, k, vv = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
            q = q.reshape(B, n, NH, d)
            k = k.reshape(B, n, kvh, d)
            vv = vv.reshape(B, n, kvh, d)
            if fam != "opt":
                q = np.stack([rope(q[b], pos, rot, f) for b in range(B)])
                k = np.stack([rope(k[b], pos, rot, f) for b in range(B)])
            kc[l] = np.concatenate([kc[l], k], 1)
            vc[l] = np.concatenate([vc[l], vv], 1)
            g = NH // kvh
            K, Vv = np.repeat(kc[l], g, 2), np.repeat(vc[l], g, 2)
            sc = np.einsum("bnhd,bchd->bhnc", q, K) / math.sqrt(d)
            sc = np.where((np.arange(K.shape[1])[None, :] > pos[:, None])[None, None], -np.inf, sc)
            if "sliding_window" in c:   # Mistral's eager mask: query i sees keys j with i - window < j <= i
                sc = np.where((np.arange(K.shape[1])[None, :] <= pos[:, None] - c["sliding_window"])[None, None],
                              -np.inf, sc)
            pr = np.exp(sc - sc.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            a = np.einsum("bhnc,bchd->bnhd", pr, Vv).reshape(B, n, NH * d)
            if fam in ("llama", "mistral", "qwen2"):
                x = x + lin(a, "self_attn.o_proj")
                h2 = rms(x, W(p + "post_attention_layernorm.weight"), eps)
                gt, up = lin(h2, "mlp.gate_proj"), lin(h2, "mlp.up_proj")
                x = x + lin(gt / (1 + np.exp(-gt)) * up, "mlp.down_proj")
            elif fam == "opt":
                x = x + lin(a, "self_attn.out_proj")
                h2 = ln(x, W(p + "final_layer_norm.weight"), W(p + "final_layer_norm.bias"), 1e-5)
                x = x + lin(np.maximum(lin(h2, "fc1"), 0), "fc2")
            else:
                attn = lin(a, "attention.dense")
                h2 = ln(x, W(p + "post_attention_layernorm.weight"), W(p + "post_attention_layernorm.bias"), eps)
                f1 = lin(h2, "mlp.dense_h_to_4h")
                mlp = lin(0.5 * f1 * (1 + np.vectorize(math.erf)(f1 / math.sqrt(2))), "mlp.dense_4h_to_h")
                x = x + attn + mlp
        last = x[:, -1, :]
        if fam in ("llama", "mistral", "qwen2"):
            nf = rms(last, W("model.norm.weight"), eps)
            head = W("model.embed_tokens.weight") if c.get("tie_word_embeddings") else W("lm_head.weight")
        elif fam == "opt":
            nf = ln(last, W("model.decoder.final_layer_norm.weight"), W("model.decoder.final_layer_norm.bias"), 1e-5)
            head = W("model.decoder.embed_tokens.weight")
        else:
            nf = ln(last, W("gpt_neox.final_layer_norm.weight"), W("gpt_neox.final_layer_norm.bias"), eps)
            head = W("embed_out.weight")
        out.append(nf @ head.T)
        pos0 += n
    return np.stack(out)


def main():
    if sys.argv[1] == "make":
        d, fam = sys.argv[2], sys.argv[3]
        rng = np.random.default_rng(11)
        c = cfg(fam)
        os.makedirs(d, exist_ok=True)
        json.dump(c, open(os.path.join(d, "config.json"), "w"), indent=2)
        w = weights(fam, c, rng)
        save_safetensors(os.path.join(d, "model.safetensors"), w)
        toks = rng.integers(0, V, (B, P + STEPS))
        toks.astype("<i4").tofile(os.path.join(d, "tokens.bin"))
        forward(fam, c, w, toks).astype("<f8").tofile(os.path.join(d, "expected.bin"))
        return 0
    d = sys.argv[2]
    want = np.fromfile(os.path.join(d, "expected.bin"), "<f8")
    got = np.fromfile(os.path.join(d, "logits.bin"), "<f8")
    if want.shape != got.shape:
        print("FAIL: %d logits, want %d" % (got.size, want.size))
        return 1
    err = np.max(np.abs(want - got)) / np.max(np.abs(want))
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-9
    print("%s: %d logits over a prefill and %d decode steps, worst difference %.3g of the largest (tolerance %g)"
          % (os.path.basename(d), got.size, STEPS, err, tol))
    return 0 if err <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
