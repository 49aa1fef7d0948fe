/* cpu_storage.c — the CPU backend's memory: 64-byte aligned heap blocks, and "device" copies that are
 * memcpy (host and device memory are the same here). */
#include "backend/cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

#define CPU_ALIGN 64

void *ug_cpu_alloc(size_t bytes) {
    bytes = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;  // aligned_alloc wants a multiple
    return aligned_alloc(CPU_ALIGN, bytes ? bytes : CPU_ALIGN);
}

void ug_cpu_free(void *p) { free(p); }

void ug_cpu_zero(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}

void ug_cpu_memcpy(void *dst, const void *src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}
