/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small helpers shared by gemd's modules. */
#ifndef GEMD_UTIL_H
#define GEMD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GEMD_ID_HEX 17	/* 16 hex digits + NUL */

uint64_t gemd_now_ms(void);	/* CLOCK_MONOTONIC */

struct msghdr;
/* From a received IPv6 datagram's control messages: the interface it came in
 * on (IPV6_PKTINFO) and its hop limit (IPV6_HOPLIMIT); each left as it was
 * when the message lacks it. */
void gemd_cmsg_in6(struct msghdr *m, unsigned int *ifindex, int *hops);

/* The next back-off of a retry that doubles up to max (no overflow): charon
 * and babeld restarts, charon start-up, identity proofs, retransmissions. */
static inline unsigned int gemd_backoff_double(unsigned int cur, unsigned int max)
{
	return cur > max / 2 ? max : cur * 2;
}
void gemd_hex(const uint8_t *p, size_t n, char *out);	/* out: 2n+1 bytes */
/* Exactly 2n hex digits (either case) into out: 0, or -EINVAL. */
int gemd_unhex(const char *hex, uint8_t *out, size_t n);
/* 8-byte node id as babeld's router-id: "01:23:45:67:89:ab:cd:ef" */
void gemd_id_eui64(const uint8_t id[8], char out[24]);

/* mkdir -p with mode for the directories it creates; 0 or -errno. */
int gemd_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never follows symlinks and stays on one file system; 0 or -errno. */
int gemd_rm_rf(const char *path);
/* Empty directory dir (created with mode if missing), except that each file
 * named in the NULL-terminated keep list is kept as NAME.1 (replacing an
 * older NAME.1): the last log of a process that restarts.  0 or -errno. */
int gemd_reset_dir(const char *dir, const char *const *keep, mode_t mode);
/* Write a whole file through a temporary + rename, with this mode. */
int gemd_write_file(const char *path, const char *data, size_t len, mode_t mode);
/* First line of a pid file: pid, or -errno. */
/* The decimal number a small file starts with (what follows it, after a
 * space or newline, is ignored: babeld's state file has "seqno time"), in
 * min..max (min >= 0): the number, or -errno (-EINVAL: not such a number). */
long gemd_read_number(const char *path, long min, long max);
pid_t gemd_read_pidfile(const char *path);	/* > 0, or -errno */

/* Token bucket: `rate` tokens per second, at most `burst` held; starts full.
 * Integer milli-tokens, so a rate of 1/s over 100 ms ticks loses nothing. */
struct gemd_bucket {
	uint64_t mtok, last_ms;
	unsigned int rate, burst;
};
void gemd_bucket_init(struct gemd_bucket *b, unsigned int rate, unsigned int burst,
		      uint64_t now_ms);
/* Take one token: true, or false (none left: refused, nothing taken). */
bool gemd_bucket_take(struct gemd_bucket *b, uint64_t now_ms);

#endif
