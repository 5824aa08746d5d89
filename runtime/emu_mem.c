/* emu_mem.c: the emulated device's memories (runtime.h): the NPU's scratch and each PE's scratch,
 * sized from the schedule's phases, and every DRAM bank. The banks are reserved, not allocated:
 * one anonymous private mapping with MAP_NORESERVE, so a page costs memory only once a weight or a
 * KV row is written to it, and a 16 GiB device runs in the memory its touched pages need. */
#define _DEFAULT_SOURCE     /* MAP_ANONYMOUS, MAP_NORESERVE, madvise */
#include "runtime.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

bool rt_mem_init(RtMem *m, const RtSchedule *s, bool huge, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    for (int p = 0; p < 2; p++) {
        if (s->phase[p].npu_scratch > m->npu_bytes)
            m->npu_bytes = s->phase[p].npu_scratch;
        if (s->phase[p].pe_scratch > m->pe_bytes)
            m->pe_bytes = s->phase[p].pe_scratch;
    }
    m->npu_bytes = (m->npu_bytes + 63) / 64 * 64 + 64;
    m->pe_bytes = (m->pe_bytes + 63) / 64 * 64 + 64;
    m->pe_unit0 = -1;
    for (int u = 0; u < s->dev.nunits; u++)
        if (s->dev.units[u].kind == RT_UNIT_PE) {
            if (m->pe_unit0 < 0)
                m->pe_unit0 = u;
            m->npes++;
        }
    m->npu = h2c_raw_alloc((size_t)m->npu_bytes);
    m->pe = m->npes ? h2c_raw_alloc((size_t)m->pe_bytes * (size_t)m->npes) : NULL;
    if (!m->npu || (m->npes && !m->pe)) {
        snprintf(err, errlen, "out of memory");
        rt_mem_free(m);
        return false;
    }
    memset(m->npu, 0, (size_t)m->npu_bytes);
    if (m->pe)
        memset(m->pe, 0, (size_t)m->pe_bytes * (size_t)m->npes);
    m->bank_bytes = s->dev.bank_capacity;
    m->nbanks_per_channel = s->dev.banks;
    m->banks_len = (size_t)s->dev.channels * (size_t)s->dev.banks * (size_t)m->bank_bytes;
    if (m->banks_len) {
        void *p = mmap(NULL, m->banks_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "cannot reserve the device's %zu bytes of banks: %s", m->banks_len, strerror(errno));
            m->banks_len = 0;
            rt_mem_free(m);
            return false;
        }
        m->banks = p;
#ifdef MADV_HUGEPAGE
        /* weights stream through the kernels faster with 2 MiB pages (fewer TLB misses), but a page
         * then also holds the untouched copies of other layers around a region: opt-in */
        if (huge)
            madvise(p, m->banks_len, MADV_HUGEPAGE);
#endif
    }
    return true;
}

void rt_mem_free(RtMem *m) {
    if (m->npu)
        h2c_raw_free(m->npu, (size_t)m->npu_bytes);
    if (m->pe)
        h2c_raw_free(m->pe, (size_t)m->pe_bytes * (size_t)m->npes);
    if (m->banks)
        munmap(m->banks, m->banks_len);
    memset(m, 0, sizeof *m);
}

void rt_mem_bank_release(RtMem *m, int channel, int bank, int64_t addr, int64_t bytes) {
    /* whole pages inside [addr, addr + bytes) only */
    const int64_t page = 4096;
    int64_t lo = (addr + page - 1) / page * page, hi = (addr + bytes) / page * page;
    unsigned char *b = rt_mem_bank(m, channel, bank);
    if (hi > lo && (((uintptr_t)b) % (uintptr_t)page) == 0)
        madvise(b + lo, (size_t)(hi - lo), MADV_DONTNEED);
}
