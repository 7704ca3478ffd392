/* What this machine can do, measured by the bench itself with the thread
 * count the model runs with, so the model's figures have something to be
 * compared to: peak single-precision FMA throughput and STREAM-style memory
 * bandwidth. */
#ifndef PHI4_BENCH_MACHINE_H
#define PHI4_BENCH_MACHINE_H

#include <stddef.h>

/* Monotonic wall-clock time in seconds (CLOCK_MONOTONIC). */
double machine_wall_seconds(void);

typedef struct machine_peak {
    double gflops;        /* f32 FMA: best of three runs, all threads */
    const char *isa;      /* "avx512", "avx2" or "generic": the widest FMA the CPU has */
    double int8_gops;     /* int8 dot products (what quantized weights run on); 0: not measured */
    const char *int8_isa; /* "avx512-vnni", "avx2" or "none" */
} machine_peak;

/* Every thread runs independent chains of vector FMAs (12 accumulators, so
 * the FMA units never wait on a result) for about 0.2 s; the figure is
 * 2 flops per lane per FMA over the wall time. The same for the int8 dot
 * product of the widest integer unit on x86 (2 operations per byte product).
 * Returns 0, or -1 with a sentence in msg. */
int machine_peak_flops(int n_threads, machine_peak *out, char *msg, size_t msg_cap);

typedef struct machine_stream {
    double copy_gbs;     /* c = a:         8 bytes an element (read + write) */
    double triad_gbs;    /* a = b + s c:  12 bytes an element */
    double read_gbs;     /* sum of a:      4 bytes an element */
    double best_gbs;     /* the highest of the three: the reference for the model */
    size_t array_bytes;
} machine_stream;

/* Three float arrays of array_mib MiB each, every kernel `passes` times,
 * best pass; threads work on their own slices (first touched by them).
 * Bytes are counted as STREAM does (no write-allocate traffic), GB = 1e9. */
int machine_stream_bandwidth(int n_threads, size_t array_mib, int passes, machine_stream *out,
                             char *msg, size_t msg_cap);

#endif
