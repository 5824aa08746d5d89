/* schema.c: the tables behind the language (spec/): hardware fields with units, ranges and defaults
 * (the H2-LLM artifact's device), the default energy table with sources, the default workload and
 * the names of enums. The front end checks against these tables, the IR prints and reads them, and
 * docs/language.md is written from them. */
#include "spec.h"

#include <math.h>
#include <string.h>

const FieldDesc hw_fields[HWF_COUNT_] = {
#define X(m, path, uk, def, lo, hi, fl, doc) {path, uk, (double)(def), lo, hi, fl, doc, offsetof(Hardware, m)},
    HW_FIELDS(X)
#undef X
};

const char *const energy_names[EF_COUNT_] = {
#define X(m, name, uk, def, src, doc) name,
    ENERGY_FIELDS(X)
#undef X
};

const char *const energy_docs[EF_COUNT_] = {
#define X(m, name, uk, def, src, doc) doc,
    ENERGY_FIELDS(X)
#undef X
};

const UnitKind energy_kinds[EF_COUNT_] = {
#define X(m, name, uk, def, src, doc) uk,
    ENERGY_FIELDS(X)
#undef X
};

static const double energy_defaults[EF_COUNT_] = {
#define X(m, name, uk, def, src, doc) def,
    ENERGY_FIELDS(X)
#undef X
};

static const char *const energy_sources[EF_COUNT_] = {
#define X(m, name, uk, def, src, doc) src,
    ENERGY_FIELDS(X)
#undef X
};

/* The H2-LLM paper's PE energy by clock (§7.1): the default pe.mac table. */
static EnergyPoint pe_mac_default[] = {
    {400e6, 0.974},
    {600e6, 1.075},
    {800e6, 1.148},
    {1000e6, 1.365},
};

const char *const attn_form_names[ATTN_COUNT_] = {"fused", "unfused"};
const char *const op_scope_names[SCOPE_COUNT_] = {"layer", "prologue", "epilogue"};
const char *const rope_scaling_names[ROPE_COUNT_] = {"none", "linear", "llama3"};
const char *const sparse_mode_names[SP_COUNT_] = {"dense", "static", "dynamic", "hybrid"};
const char *const dataflow_mode_names[DF_COUNT_] = {"data-centric", "compute-centric", "npu-only",
                                                    "attn-nmp",     "attn-nmp-split",  "fc-nmp"};
const char *const objective_names[OBJ_COUNT_] = {"latency", "energy", "edp"};
const char *const split_space_names[SPLITS_COUNT_] = {"all", "artifact"};
const char *const search_method_names[SM_COUNT_] = {"exhaustive", "ga"};
const char *const cost_model_names[CM_COUNT_] = {"h2c", "h2llm-artifact"};

double precision_bytes(Precision p) {
    switch (p) {
    case PREC_FP16: return 2;
    case PREC_INT8: return 1;
    case PREC_INT4: return 0.5;
    case PREC_FP32: return 4;
    default: h2c_unreachable("bad precision");
    }
}

const char *precision_name(Precision p) {
    static const char *const names[PREC_COUNT_] = {"fp16", "int8", "int4", "fp32"};
    return p < PREC_COUNT_ ? names[p] : "?";
}

void hardware_defaults_named(Hardware *hw, const char *name) {
    memset(hw, 0, sizeof *hw);
    hw->name = name;
    for (int i = 0; i < HWF_COUNT_; i++)
        *(double *)((char *)hw + hw_fields[i].offset) = hw_fields[i].def;
    for (int i = 0; i < EF_COUNT_; i++) {
        hw->energy[i].value = energy_defaults[i];
        hw->energy[i].source = energy_sources[i];
    }
    hw->energy[EF_pe_mac].table = pe_mac_default;
    hw->energy[EF_pe_mac].ntable = (int)(sizeof pe_mac_default / sizeof pe_mac_default[0]);
    hw->energy[EF_pe_mac].value = energy_pe_mac(hw, hw->pe_frequency);
}

void hardware_defaults(Hardware *hw) { hardware_defaults_named(hw, "h2llm-default"); }

double energy_pe_mac(const Hardware *hw, double freq) {
    const EnergyEntry *e = &hw->energy[EF_pe_mac];
    if (!e->table || e->ntable == 0)
        return e->value;
    if (freq <= e->table[0].freq)
        return e->table[0].pj;
    for (int i = 1; i < e->ntable; i++) {
        if (freq <= e->table[i].freq) {
            const EnergyPoint *a = &e->table[i - 1], *b = &e->table[i];
            double t = (freq - a->freq) / (b->freq - a->freq);
            return a->pj + t * (b->pj - a->pj);
        }
    }
    return e->table[e->ntable - 1].pj;
}

int hardware_inconsistency(const Hardware *hw, char *why, size_t n) {
    if (hw->nmp_channels > hw->channels) {
        snprintf(why, n, "nmp.channels = %g exceeds channels = %g", hw->nmp_channels, hw->channels);
        return HWF_nmp_channels;
    }
    if (fmod(hw->banks_per_channel, hw->pe_banks) != 0) {
        snprintf(why, n, "pe.banks = %g does not divide banks_per_channel = %g", hw->pe_banks, hw->banks_per_channel);
        return HWF_pe_banks;
    }
    return -1;
}

/* The default workload: ShareGPT-like, batch 4 (the reference results' setting, §7.3). */
void workload_defaults(Workload *w) {
    memset(w, 0, sizeof *w);
    w->name = "default";
    w->batch = 4;
    w->prompt = 783;
    w->generate = 209;
    w->max_seq = 2048;
    w->attention = -1;
}

void sparsity_defaults(Sparsity *sp) {
    memset(sp, 0, sizeof *sp);
    sp->name = "default";
    sp->mode = SP_HYBRID;
    sp->sink = 64;
    sp->window = 256;
    sp->page = 16;
    sp->budget = 1024;
    sp->static_heads = 0.5;
    sp->dense_layers = 2;
}

const SweepDesc sweep_fields[SW_COUNT_] = {
#define X(id, path, uk, lo, hi, fl, doc) {path, uk, lo, hi, fl, doc},
    SWEEP_FIELDS(X)
#undef X
};

bool sweep_is_work(SweepField f) { return f == SW_CONTEXT || f == SW_MODEL || f == SW_WORKLOAD || f == SW_BATCH; }

void sweep_workload(Workload *w, double context) {
    w->prompt = (int)context;
    w->max_seq = (int)context + w->generate;
}

void sweep_sparsity(Sparsity *sp, SweepField f, double v) {
    switch (f) {
    case SW_STATIC_HEADS: sp->static_heads = v; break;
    case SW_SINK: sp->sink = (int)v; break;
    case SW_WINDOW: sp->window = (int)v; break;
    case SW_BUDGET: sp->budget = (int)v; break;
    default: break; /* the work axes are the model's and the workload's */
    }
}

/* Hugging Face's defaults: theta 10000, all of head_dim rotated, no scaling. */
void rope_defaults(Rope *r) {
    memset(r, 0, sizeof *r);
    r->theta = 10000;
    r->fraction = 1;
    r->scaling = ROPE_NONE;
    r->factor = 1;
    r->low_freq_factor = 1;
    r->high_freq_factor = 4;
    r->original_max = 8192;
}
