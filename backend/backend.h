/* backend.h: h2c's backend, from a finished Module (dataflow and placement done) to what a runtime
 * runs: the memory map of every bank (memmap.c), the schedule (schedule.c: per phase and scope the
 * command stream of every unit and link, with dependencies and estimates, and the table of kernels
 * it calls) and its JSON form (sched_json.c; docs/schedule.md). The kernel library (kernels.h,
 * its own CMake library) turns the kernel table into C text, LLVM IR or JIT code. */
#ifndef H2C_BACKEND_H
#define H2C_BACKEND_H

#include "passes.h"
#include "kernels.h"

#define SCHED_FORMAT "h2c-schedule"
#define SCHED_VERSION 1
/* Elements per fp16 scale of int8 and int4 weights (GPTQ's and AWQ's usual group) */
#define SCHED_QUANT_GROUP 128
/* Byte alignment of every region in a bank, of each layer's copy and of every buffer */
#define SCHED_ALIGN 64

/* ---------------------------------------------------------------- memmap.c
 * Where every byte of every tensor lives. The IR says which banks hold a tile (its channels, or one
 * bank); the memory map decides which part of the tile each bank holds, in the layout the kernels
 * read, and at which address. */

typedef enum MapLayout {
    MAP_ROWS,       /* a row-major matrix cut into whole rows: a weight stored output-major (row n = the K
                     * weights of output column n, then its fp16 scales, then its f32 bias) or an
                     * embedding table (row v = token v's fp16 vector) */
    MAP_VECTOR,     /* a norm's f32 scale vector (and shift) cut into runs of elements */
    MAP_TOKENS,     /* a KV cache tile: its (KV head, batch) pairs, tokens interleaved over the banks */
    MAP_COUNT_
} MapLayout;
extern const char *const map_layout_names[MAP_COUNT_];

/* One bank's share of a tensor tile, for every layer. */
typedef struct MapRegion {
    int channel, bank;
    long long addr;         /* layer 0's copy; layer l's at addr + l * stride */
    long long stride;       /* bytes between layers' copies (>= bytes, a multiple of SCHED_ALIGN) */
    long long bytes;        /* bytes of one layer's copy */
    long long lo, hi;       /* MAP_ROWS: rows [lo, hi); MAP_VECTOR: elements [lo, hi); MAP_TOKENS: its
                             * position j in the tile's bank list: tokens t with t mod n == j */
} MapRegion;

typedef struct MapTile {
    int tensor, tile;       /* the IR's tensor and tensor tile */
    MapLayout layout;
    KernelDType dtype;      /* element type stored: weights' wtype, f16 tables and KV, f32 vectors */
    long long row_bytes;    /* MAP_ROWS: bytes of a row of elements; MAP_TOKENS: of a token's D elements;
                             * MAP_VECTOR: 4 */
    long long scale_bytes;  /* MAP_ROWS, int8/int4: bytes of a row's fp16 scales; else 0 */
    int group;              /* int8/int4: elements per scale; else 0 */
    int k;                  /* MAP_ROWS: elements per row (a weight's K, a table's hidden) */
    bool bias;              /* MAP_ROWS: an f32 bias per row after the scales; MAP_VECTOR: a shift */
    long long lo, hi;       /* MAP_ROWS, MAP_VECTOR: the tile's rows / elements */
    int h0, h1, b0, b1;     /* MAP_TOKENS: KV heads [h0, h1) x batch rows [b0, b1): pair (h, b) is
                             * (h - h0) * (b1 - b0) + (b - b0) in the region */
    long long cap;          /* MAP_TOKENS: token rows per pair in each bank, ceil(max_seq / nbanks) */
    int nbanks;             /* banks the tile is spread over (its channels' banks, channel-major) */
    MapRegion *regions;     /* one per bank holding something, in bank-list order */
    int nregions;
} MapTile;

/* One tiles line of an attention plan (docs/ir.md §2.6): a stream's KV, for a range of layers, in n
 * tiles, tile j in banks[j] (a bank may hold several). Each tile's region holds, one after another,
 * `cap` keys, `cap` values, and (dynamic) `pages` min keys and `pages` max keys, head_dim elements each. */
typedef struct MapStream {
    int attn, line;         /* the attention and its tiles line */
    int l0, l1;             /* layers [l0, l1) */
    int head, batch;        /* the stream's KV head and batch row */
    int n;                  /* tiles */
    Exec by;                /* EXEC_NONE: each tile on the PE under its bank; EXEC_NPU, EXEC_PE: there */
    KernelDType dtype;      /* the KV cache's element type */
    long long row_bytes;    /* head_dim elements */
    long long cap, pages;   /* rows of K (and of V), and page metadata entries (a min and a max row) per tile */
    long long bytes;        /* a region's bytes */
    MapRegion *regions;     /* tile j's: bank, layer l0's copy at addr, layer l's at addr + (l - l0) * stride */
} MapStream;

typedef struct MemMap {
    MapTile *tiles;         /* every tensor tile, tensor by tensor */
    int ntiles;
    int *first;             /* [tensor]: index of its first tile in tiles */
    MapStream *streams;     /* every tiles line of every attention plan, attention by attention */
    int nstreams;
    int *attn_first;        /* [attention]: index of its first stream */
} MemMap;

/* The memory map of a placed module, in `a`. False, with an error located at the tensor, if a
 * tensor is not placed, is tiled in a way the kernels cannot read, or overflows a bank. */
bool map_build(Arena *a, const Module *m, MemMap *map, Diag *d);
const MapTile *map_tile(const MemMap *map, int tensor, int tile);
/* The region of a tile that holds row (element, token residue) r, or NULL. */
const MapRegion *map_region_of(const MapTile *t, long long r);
/* Byte offset of row r's parts inside its region: its elements, its scales, its bias. */
long long map_row_offset(const MapTile *t, const MapRegion *g, long long r);
long long map_scale_offset(const MapTile *t, const MapRegion *g, long long r);
long long map_bias_offset(const MapTile *t, const MapRegion *g, long long r);
/* The stream tiles line holding (layer, head, batch) of attention a, or NULL. */
const MapStream *map_stream_at(const MemMap *map, const Module *m, int a, int layer, int head, int batch);
/* The storage type of weights on a device (fp16 -> f16, int8 -> i8, ...). */
KernelDType map_weight_dtype(const Module *m);
/* The KV cache's element type: f32 on an fp32 device, else f16 (the attention kernels read those). */
KernelDType map_kv_dtype(const Module *m);

/* ---------------------------------------------------------------- schedule.c */

/* A JSON document's text (sched_json.c). */
typedef struct JsonText {
    char *text;         /* NUL-terminated, from h2c_raw_alloc */
    size_t len, cap;
    bool failed;        /* an allocation failed */
} JsonText;


typedef struct SchedStats {
    int commands[PH_COUNT_];    /* commands of one pass over each scope, summed */
    int kernels;                /* distinct kernels */
    int streams;                /* streams, all phases and scopes */
    int npu_attn_pairs;         /* decode (KV head, batch) pairs the plan put near memory that run on the NPU */
} SchedStats;

/* A module's schedule: its JSON document and the distinct kernels it calls. */
typedef struct Schedule Schedule;

/* Builds the schedule of a module whose passes have run (shapes, dataflow, placement). NULL, with
 * errors located at the ops and tensors concerned, if the plan uses something the schedule cannot
 * express (docs/schedule.md §6). `name` names the unit in the document. */
Schedule *be_schedule_build(const Module *m, const char *name, Diag *d);
void be_schedule_free(Schedule *s);
/* The kernel table, in the schedule's order (its `kernels` array); owned by s. */
const KernelDesc *be_schedule_kernels(const Schedule *s, int *n);
const SchedStats *be_schedule_stats(const Schedule *s);
/* The schedule's JSON text (deterministic: the same module gives the same bytes); false when out
 * of memory. Free it with be_json_text_free. */
bool be_schedule_render(const Schedule *s, JsonText *out);

/* ---------------------------------------------------------------- graph.c */

struct cJSON;
/* The schedule's `graph` section (docs/schedule.md §2.5): the decode phase's op graph as the
 * runtime's reference forward pass reads it. cJSON's allocation hooks are the caller's. */
struct cJSON *be_graph_json(const Module *m, Arena *a);

/* ---------------------------------------------------------------- sched_json.c */

/* Prints a JSON tree in the schedule's layout: objects and arrays one member per line with two
 * spaces of indentation, except that each element of an array of records (commands, kernels,
 * units, links, ops, regions) and every object or array of scalars is printed on one line. The
 * runtime's writer (runtime/sched_write.c) prints the same layout. */
struct cJSON;
/* False (out of memory) with nothing to free; else out->text holds the text. */
bool be_json_render(const struct cJSON *root, JsonText *out);
void be_json_text_free(JsonText *t);

#endif
