/*
 * vb_proc.h - what /proc says about a system under test: the CPU time of its
 * whole process tree, the UDP sockets it owns and how many datagrams their
 * receive queues dropped, and whether a port is bound yet.
 *
 * CPU time is utime + stime of /proc/PID/stat for the root and every
 * descendant (Kamailio forks a process per worker and timer; viaduct has
 * one process of threads). The process-level line already sums all its
 * threads, including threads that have exited, which a sum over
 * /proc/PID/task/STAR/stat would miss; the task directories are read only
 * to count threads. Linux-only, no allocation, bounded by VB_PROC_MAX.
 */
#ifndef VIADUCT_VB_PROC_H
#define VIADUCT_VB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VB_PROC_MAX 256 /* processes of one tree, sockets of one tree */

struct vb_proc_cpu {
    double cpu_s; /* user + system seconds, all processes and threads */
    double user_s, sys_s;
    int nproc, nthreads;
};

/* root and its descendants into pids[0..max); returns the count (0 if root
 * is gone). */
int vb_proc_tree(pid_t root, pid_t *pids, int max);

/* CPU time of the tree under root. 0, or -ESRCH if root is gone. */
int vb_proc_cpu(pid_t root, struct vb_proc_cpu *out);

/* Inodes of the sockets the tree under root holds open. Returns the count. */
int vb_proc_sock_inodes(pid_t root, uint64_t *ino, int max);

/* Inode of an open socket. */
uint64_t vb_fd_inode(int fd);

/* Sum of the "drops" column of /proc/net/udp and udp6 over the given
 * socket inodes (this network namespace). */
uint64_t vb_udp_drops(const uint64_t *ino, int n);

/* True if a UDP socket is bound to this local port (any address). */
bool vb_udp_port_bound(int port);

#endif
