/*
 * vb_spray.h - viaduct-bench spray: requests from random spoofed IPv4
 * sources over a raw socket (vb_spray.c).
 */
#ifndef VIADUCT_VB_SPRAY_H
#define VIADUCT_VB_SPRAY_H

/* `viaduct-bench spray`. Returns the exit status. */
int vb_spray_main(int argc, char **argv);

#endif
