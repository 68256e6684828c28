/*
 * clock.h - the one clock viaduct's health and routing decisions use:
 * CLOCK_MONOTONIC in milliseconds. Hot-path code never reads it itself: the
 * worker reads it once per batch of datagrams (the coarse variant, from the
 * vDSO page) and passes it down, so px_handle stays a function of its
 * arguments and tests drive it with a fake clock.
 */
#ifndef VIADUCT_CLOCK_H
#define VIADUCT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Precise, for the health thread's timers. */
static inline int64_t clk_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The same clock in microseconds: probe round trips. */
static inline int64_t clk_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The same clock at the resolution of the kernel's tick (1-4 ms): for
 * windows of seconds. */
static inline int64_t clk_coarse_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* CLOCK_REALTIME in microseconds: the one clock instances on several hosts
 * share (NTP), for the send times in our Via (px.h PX_VDT). */
static inline int64_t clk_real_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

#endif
